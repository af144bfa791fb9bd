#!/usr/bin/env python3
"""A complete kanband client: framing, JSON-RPC 2.0, error kinds (see docs/PROTOCOL.md)."""
import json, os, socket, struct, sys

class KanbanError(Exception):
    def __init__(self, error):
        super().__init__(error["message"])
        self.code, self.kind = error["code"], error.get("data", {}).get("kind", "internal")

class Kanban:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.last_id = 0

    def _read(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk: raise ConnectionError("kanband closed the connection")
            data += chunk
        return data

    def call(self, method, **params):
        self.last_id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self.last_id, "method": method, "params": params}).encode()
        self.sock.sendall(struct.pack(">I", len(body)) + body)
        while True:
            reply = json.loads(self._read(struct.unpack(">I", self._read(4))[0]))
            if "method" in reply: continue  # a push (events.event) for a watch on this connection
            if "error" in reply: raise KanbanError(reply["error"])
            return reply["result"]

def socket_path(env=os.environ):
    if env.get("KANBAN_SOCKET"): return env["KANBAN_SOCKET"]
    if env.get("KANBAN_HOME"): return os.path.join(env["KANBAN_HOME"], "kanband.sock")
    if env.get("XDG_RUNTIME_DIR"): return os.path.join(env["XDG_RUNTIME_DIR"], "kanban/kanband.sock")
    return os.path.expanduser("~/.local/state/kanban/kanband.sock")

if __name__ == "__main__":
    board = Kanban(sys.argv[1] if len(sys.argv) > 1 else socket_path())
    hello = board.call("system.hello", client="protocol_client.py", protocol_major=1)
    print("hello", hello["server_version"], hello["protocol_version"])
    task = board.call("task.create", title="Write the report", body="two pages")["task"]
    print("created", task["id"], task["status"])
    for t in board.call("task.list", status="ready")["tasks"]:
        print("ready", t["id"], t["title"])
    done = board.call("task.complete", id=task["id"], result="report written")["task"]
    print("completed", done["id"], done["status"])
    try:
        board.call("task.complete", id=task["id"])
    except KanbanError as error:
        print("error", error.code, error.kind, error)
