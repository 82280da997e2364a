"""Run the Stock2Shop sandbox: ``python -m sandbox --port 8765 --db .demo/sandbox.sqlite``."""

from __future__ import annotations

import argparse
import gc
import json
import os
import socket

import uvicorn

from sandbox.app import SandboxSettings, create_app


def _sources(text: str) -> dict[int, str]:
    """``{"101": "Shop"}`` (JSON, as ``stock2shop_sync.cli sandbox-sources`` prints it) or ``101:Shop,102``."""
    if text.lstrip().startswith("{"):
        return {int(sid): str(desc) for sid, desc in json.loads(text).items()}
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        sid, _, desc = part.partition(":")
        out[int(sid)] = desc or f"Source {sid}"
    return out


def _check_port(host: str, port: int) -> None:
    """Refuse at once, naming the port, when another process listens on it (uvicorn would only log it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a closing socket does not count
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise SystemExit(
                f"the sandbox cannot listen on {host}:{port}: {exc.strerror}. Another process has the port: stop "
                f"it, or give the sandbox another one (SANDBOX_PORT=<port> make ...)."
            ) from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--db", default=".demo/sandbox.sqlite", help="SQLite file that keeps what arrives")
    parser.add_argument(
        "--sources", default="101:Demo custom database", help="JSON {id: description}, or id[:description],..."
    )
    parser.add_argument("--rate-limit", type=float, default=3.0, help="requests per second per user (0 = off)")
    parser.add_argument(
        "--with-stand-ins", action="store_true", help="also serve Sage Accounting at /sage and iSync at /isync"
    )
    args = parser.parse_args()
    _check_port(args.host, args.port)
    # Credentials come from the environment, never from the command line (which `ps` shows).
    users = {os.environ.get("SANDBOX_USER", "demo"): os.environ.get("SANDBOX_PASSWORD", "demo")}
    settings = SandboxSettings(users=users, sources=_sources(args.sources), rate_limit=args.rate_limit)
    os.makedirs(os.path.dirname(os.path.abspath(args.db)), exist_ok=True)
    app = create_app(args.db, settings)
    if args.with_stand_ins:
        # The cloud ERPs' stand-ins, so the demo's Sage Accounting and iSync sources have an API to talk to.
        from sandbox.isync import create_isync_app
        from sandbox.isync import demo_state as isync_state
        from sandbox.sage_accounting import create_sage_app
        from sandbox.sage_accounting import demo_state as sage_state

        app.mount("/sage", create_sage_app(sage_state()))
        app.mount("/isync", create_isync_app(isync_state()))
    # Each queue request allocates thousands of short-lived dicts; with the default thresholds the cyclic
    # collector ran dozens of times per request and cost more than parsing. Freeze what the app holds and
    # collect young objects less often (nothing the sandbox builds per request forms cycles).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    app.state.store.close()  # what was queued is stored before the process ends


if __name__ == "__main__":
    main()
