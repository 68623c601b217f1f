"""Helpers shared by the fault tests and benchmarks/reliability.py: what a folder holds, and a
server on the loopback address that is not a dask scheduler."""

import hashlib
import socket
import threading


def snapshot(folder):
    """Every path under `folder` with its content's hash: equal snapshots, nothing changed."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


class LoopbackServer:
    """A TCP server on 127.0.0.1 only, that accepts and then stays silent, or answers `answer`."""

    def __init__(self, answer: bytes | None):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.answer, self.conns = answer, []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            if self.answer:
                conn.sendall(self.answer)

    def close(self):
        for conn in self.conns:
            conn.close()
        self.sock.close()
