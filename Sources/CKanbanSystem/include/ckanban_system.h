#ifndef CKANBAN_SYSTEM_H
#define CKANBAN_SYSTEM_H

#include <sys/types.h>

/// Starts `argv[0]` (searched on the PATH of `envp`) in a new session (setsid, so its own
/// process group), with cwd `cwd`, stdin from /dev/null and stdout+stderr on `output_fd`.
/// Returns 0 and stores the pid, or an errno value (ENOENT for a missing executable, etc.).
int ckanban_spawn(char *const argv[], char *const envp[], const char *cwd, int output_fd, pid_t *pid_out);


#endif
