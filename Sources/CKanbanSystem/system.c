#define _GNU_SOURCE
#include "ckanban_system.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <unistd.h>

static const char *lookup_path(char *const envp[]) {
    for (char *const *entry = envp; entry && *entry; entry++) {
        if (strncmp(*entry, "PATH=", 5) == 0) return *entry + 5;
    }
    return "/usr/local/bin:/usr/bin:/bin";
}

/// Resolves argv0 against PATH the way execvp would, so a missing executable is reported by the
/// caller as ENOENT rather than as a child that exits 127.
static int resolve(const char *argv0, const char *path, char *out, size_t size) {
    if (strchr(argv0, '/')) {
        if (access(argv0, X_OK) != 0) return errno;
        if (strlen(argv0) >= size) return ENAMETOOLONG;
        strcpy(out, argv0);
        return 0;
    }
    const char *start = path;
    int last = ENOENT;
    while (1) {
        const char *end = strchr(start, ':');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        if (len + strlen(argv0) + 2 < size) {
            if (len == 0) {
                strcpy(out, argv0);
            } else {
                memcpy(out, start, len);
                out[len] = '/';
                strcpy(out + len + 1, argv0);
            }
            if (access(out, X_OK) == 0) return 0;
            if (errno != ENOENT) last = errno;
        }
        if (!end) break;
        start = end + 1;
    }
    return last;
}

int ckanban_spawn(char *const argv[], char *const envp[], const char *cwd, int output_fd, pid_t *pid_out) {
    char resolved[4096];
    int rc = resolve(argv[0], lookup_path(envp), resolved, sizeof resolved);
    if (rc != 0) return rc;
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    if ((rc = posix_spawn_file_actions_init(&actions)) != 0) return rc;
    if ((rc = posix_spawnattr_init(&attr)) != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return rc;
    }
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, output_fd, 1);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, output_fd, 2);
    // Nothing of the daemon's leaks into the worker: not its sockets, epoll or pidfile descriptors,
    // nor whatever kanband itself inherited.
    if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (rc == 0 && cwd) rc = posix_spawn_file_actions_addchdir_np(&actions, cwd);
    if (rc == 0) rc = posix_spawn(pid_out, resolved, &actions, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    return rc;
}
