"""The sandbox's SQLite writer: a process of its own, so storing a batch costs the server's event loop nothing.

Started by :class:`sandbox.app._Store` as ``python sandbox/writer.py DB`` (a plain script: it imports nothing of the
sandbox). It reads frames from stdin, each an 8-byte little-endian length and a body:

* ``w``, the length of a JSON text, the JSON ``[[sql, [params, ...], text_column], ...]``, then texts, then
  (optionally) a request's JSON body: run each statement for each of its parameter lists, the frame's statements
  together (all or none of them: a frame that fails leaves nothing behind and is reported at the next sync).
  Where ``text_column`` is a number, that parameter of each list is the length of the next text after the JSON
  (UTF-8), which is stored in its place. Where it is ``[column, key]``, the body after the texts is JSON whose
  ``key`` lists one item per parameter list, in order, and each item's text, as it is in the body, is stored in
  that column. Frames that arrive back to back are stored in one transaction.
* ``s``: commit, then answer one frame on stdout: empty when every write since the last sync was stored, else the
  error(s).

It stops at the end of stdin (the server closed the pipe or exited), after committing what it was sent.
"""

from __future__ import annotations

import os
import select
import signal
import sqlite3
import struct
import sys

import msgspec
import orjson

HEADER = struct.Struct("<Q")
#: frames stored in one transaction at most
FRAMES_PER_COMMIT = 64
CHUNK = 1 << 20


def connect(path: str) -> sqlite3.Connection:
    """The writing connection (transactions begun and ended here, not by the sqlite3 module)."""
    db = sqlite3.connect(path, isolation_level=None, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    # The sandbox stands in for a remote service: what it stores must survive the sandbox (or a writer) being
    # killed, which WAL gives without syncing, not the machine losing power. Without the syncs and with the file
    # read through a memory map, storing the bench's million products took 3.0 s instead of 4.9 s and 3.0 CPU-s
    # instead of 4.2 (``synchronous=NORMAL`` synced the file at every checkpoint).
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA mmap_size=4294967296")
    # Checkpoint the WAL every ~40 MiB rather than every 4 MiB: a bulk upload then spends a fraction of the time
    # copying pages back and syncing the file.
    db.execute("PRAGMA wal_autocheckpoint=10000")
    return db


class Frames:
    """Frames from a file descriptor, read in large chunks."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()
        self.eof = False

    def _complete(self) -> bool:
        return len(self.buffer) >= HEADER.size and len(self.buffer) >= HEADER.size + HEADER.unpack_from(self.buffer)[0]

    def ready(self) -> bool:
        """Whether a frame can be had without waiting."""
        if self._complete():
            return True
        return not self.eof and bool(select.select([self.fd], [], [], 0)[0]) and self._fill() and self._complete()

    def _fill(self) -> bool:
        chunk = os.read(self.fd, CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def next(self) -> bytes | None:
        """The next frame's body (waiting for it), or None at the end of the input."""
        while not self._complete():
            if self.eof or not self._fill():
                return None
        size = HEADER.unpack_from(self.buffer)[0]
        body = bytes(self.buffer[HEADER.size : HEADER.size + size])
        del self.buffer[: HEADER.size + size]
        return body


_ITEMS: dict[str, msgspec.json.Decoder[object]] = {}


def _items(body: memoryview, key: str) -> list[msgspec.Raw]:
    """The texts of the items a JSON body lists under ``key``, as they are in the body."""
    decoder = _ITEMS.get(key)
    if decoder is None:
        decoder = _ITEMS[key] = msgspec.json.Decoder(msgspec.defstruct(f"Items_{key}", [(key, list[msgspec.Raw])]))
    return getattr(decoder.decode(body), key)


def statements(body: memoryview) -> list[tuple[str, list[list[object]]]]:
    """The statements of a ``w`` frame, their texts in place."""
    size = HEADER.unpack_from(body, 1)[0]
    start = 1 + HEADER.size
    offset = start + size
    out = []
    from_body = []
    for sql, params, column in orjson.loads(body[start:offset]):
        if isinstance(column, list):
            from_body.append((params, *column))
        elif column is not None:
            for row in params:
                end = offset + row[column]
                row[column] = str(body[offset:end], "utf-8")
                offset = end
        out.append((sql, params))
    for params, column, key in from_body:
        items = _items(body[offset:], key)
        if len(items) != len(params):
            raise ValueError(f"the body lists {len(items)} {key}, for {len(params)} rows")
        for row, text in zip(params, items, strict=True):
            row[column] = str(text, "utf-8")
    return out


def serve(path: str, fd_in: int, fd_out: int) -> None:
    """Store what arrives on ``fd_in`` in the SQLite file ``path``; answer syncs on ``fd_out``."""
    db = connect(path)
    frames = Frames(fd_in)
    errors: list[str] = []
    in_transaction = 0  # frames stored since BEGIN

    def commit() -> None:
        nonlocal in_transaction
        if in_transaction:
            db.execute("COMMIT")
            in_transaction = 0

    while (body := frames.next()) is not None:
        if body[:1] == b"s":
            commit()
            answer = "\n".join(errors).encode()
            errors.clear()
            view = memoryview(HEADER.pack(len(answer)) + answer)
            while view:
                view = view[os.write(fd_out, view) :]
            continue
        if not in_transaction:
            db.execute("BEGIN")
        db.execute("SAVEPOINT frame")
        try:
            for sql, params in statements(memoryview(body)):
                db.executemany(sql, params)
        except (sqlite3.Error, ValueError, TypeError, ArithmeticError) as exc:  # reported at the next sync
            errors.append(f"{type(exc).__name__}: {exc}")
            if not db.in_transaction:  # SQLite rolled the whole transaction back (a full disk, say)
                errors.append(f"and the {in_transaction} frame(s) before it in the same transaction")
                in_transaction = 0
                continue
            db.execute("ROLLBACK TO frame")
        db.execute("RELEASE frame")
        in_transaction += 1
        if in_transaction >= FRAMES_PER_COMMIT or not frames.ready():
            commit()
    commit()
    db.close()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C stops the server, which then closes our stdin
    serve(sys.argv[1], sys.stdin.fileno(), sys.stdout.fileno())


if __name__ == "__main__":
    main()
