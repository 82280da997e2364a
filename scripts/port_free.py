"""Exit non-zero, naming the port, when another process listens on it: ``port_free.py PORT HOST HINT``.

The start scripts (make sandbox, make up) run this before starting a server, so a port clash is an error that
names the port instead of a server that dies in the background while a health check finds the other process.
"""

from __future__ import annotations

import socket
import sys


def main() -> None:
    port, host, hint = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind: a closing socket does not count
        try:
            sock.bind((host, port))
        except OSError as exc:
            sys.exit(f"port {port} is in use by another process ({exc.strerror}): stop it, or {hint}")


if __name__ == "__main__":
    main()
