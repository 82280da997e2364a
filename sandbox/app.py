"""A Stock2Shop-compatible API server for local runs, the demo and tests.

It implements the documented endpoints a source uses (``/v1/users/authenticate``, ``/v1/users/valid_token``,
``/v1/sources``, ``/v1/products/queue``, ``/v1/queue/summary``) and the contracts this project assumes for
customers (``/v1/customers/queue``) and a source's orders (``/v1/sources/{id}/orders/pending``, ``.../{order}/
source_order_code``, ``.../{order}/error``), with Stock2Shop's documented behaviour: the token is a query parameter,
a new login invalidates older tokens, requests over the per-second limit get HTTP 429 with ``Retry-After``
and ``x-S2S-RateLimit``, ``variants`` must be one object per queue item.

What arrives is kept in SQLite, keyed like Stock2Shop keys it (source + variant code, source + customer
code), so re-sending the same data never duplicates anything. People and tests read it back under
``/sandbox/...``; ``/`` is a small HTML page. As in Stock2Shop, a queued batch is stored after the answer (by a
writer process, sandbox/writer.py); every read waits until what was answered before is stored.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import html
import json
import logging
import os
import secrets
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import msgspec
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from sandbox.faults import FaultSettings
from sandbox.faults import install as install_faults

SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    source_id INTEGER NOT NULL,
    source_variant_code TEXT NOT NULL,
    source_product_code TEXT NOT NULL,
    sku TEXT NOT NULL,
    product_active TEXT NOT NULL,
    payload TEXT NOT NULL,
    times_received INTEGER NOT NULL DEFAULT 1,
    first_received REAL NOT NULL,
    last_received REAL NOT NULL,
    PRIMARY KEY (source_id, source_variant_code)
);
CREATE TABLE IF NOT EXISTS customers (
    source_id INTEGER NOT NULL,
    source_customer_code TEXT NOT NULL,
    customer_active TEXT NOT NULL,
    payload TEXT NOT NULL,
    times_received INTEGER NOT NULL DEFAULT 1,
    first_received REAL NOT NULL,
    last_received REAL NOT NULL,
    PRIMARY KEY (source_id, source_customer_code)
);
CREATE TABLE IF NOT EXISTS orders (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id TEXT NOT NULL UNIQUE,
    source_id INTEGER NOT NULL,
    body TEXT NOT NULL,
    source_order_code TEXT,
    source_customer_code TEXT,
    ack_count INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    error_count INTEGER NOT NULL DEFAULT 0,
    final_error INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    items INTEGER NOT NULL DEFAULT 0,
    content_encoding TEXT,
    batch TEXT
);
"""

REQUIRED_SOURCE = ("source_id", "source_product_code", "product_active", "sync_token", "fetch_token")
REQUIRED_VARIANT = ("source_variant_code", "sku")


@dataclass
class SandboxSettings:
    """Who may log in, which sources exist and how fast clients may call."""

    users: dict[str, str] = field(default_factory=lambda: {"demo": "demo"})
    sources: dict[int, str] = field(default_factory=lambda: {101: "Demo custom database"})
    rate_limit: float = 3.0
    advertise_rate_limit: bool = True
    client_id: int = 21
    #: injected faults (none by default); also switchable while running with ``POST /sandbox/faults``
    faults: FaultSettings = field(default_factory=FaultSettings)


#: ``(sql, rows, text_column)``: what :meth:`_Store.write` takes. ``text_column`` is None, the column of each row
#: that holds UTF-8 text as bytes, or ``(column, key)``: that column of each row (None there) is to be the text of
#: the row's item in the JSON body given to :meth:`_Store.write`, whose ``key`` lists the items in row order
Statement = tuple[str, list[tuple[Any, ...]], int | tuple[int, str] | None]


class _Outbox:
    """Frames on their way to the writer process's stdin, written by a thread of their own, in order.

    The pipe holds 1 MiB at most (about two batches, and raising that needs a privilege the sandbox may not
    have), so writing a frame in the event loop made it wait whenever the writer was busy or not scheduled: a
    fifth of the server's time during an upload. Here the loop hands the frame over and goes on answering;
    only when :attr:`LIMIT` bytes are waiting does :meth:`put` wait for the writer to catch up.
    """

    LIMIT = 64 * 1024 * 1024

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.frames: deque[bytes] = deque()
        self.size = 0  # bytes waiting
        self.ready = threading.Condition()
        self.failed: OSError | None = None
        self.closed = False
        self.thread = threading.Thread(target=self._run, name="sandbox-writer-pipe", daemon=True)
        self.thread.start()

    def put(self, frame: bytes) -> None:
        """Queue a frame; raise the error that stopped an earlier frame (then this one is not sent either)."""
        with self.ready:
            while self.size >= self.LIMIT and self.failed is None and not self.closed:
                self.ready.wait()
            if self.failed is not None:
                raise self.failed
            if self.closed:
                raise BrokenPipeError("the writer's pipe is closed")
            self.frames.append(frame)
            self.size += len(frame)
            self.ready.notify_all()

    def close(self) -> None:
        """Write what is queued, then stop the thread (the caller closes the stream)."""
        with self.ready:
            self.closed = True
            self.ready.notify_all()
        self.thread.join()

    def _run(self) -> None:
        while True:
            with self.ready:
                while not self.frames and not self.closed:
                    self.ready.wait()
                if not self.frames:
                    return
                frame = self.frames.popleft()
            try:
                _write_all(self.stream, frame)
            except OSError as exc:  # the writer died: this frame and the queued ones are lost; put() says so
                with self.ready:
                    self.failed = exc
                    self.frames.clear()
                    self.size = 0
                    self.ready.notify_all()
                return
            with self.ready:
                self.size -= len(frame)
                self.ready.notify_all()


class _Store:
    """The SQLite file behind the sandbox: reads here, writes in a writer process of its own (sandbox/writer.py).

    :meth:`write` hands statements to the writer and returns; the writer stores them in order. Stock2Shop's
    queue endpoints answer once a batch is validated and queued, so the queue endpoints and the request log
    use it, and the server's event loop never waits for SQLite while an upload goes on. :meth:`query` first
    waits until the writer has stored everything written before (:meth:`drain`), so a read sees every batch
    that was answered before it; :meth:`execute` and :meth:`executemany` write and wait (for the order
    endpoints and the reset, whose callers expect the change made, or an error, when they return).
    """

    #: seconds without writes after which the writer process is stopped (the next write starts another)
    IDLE_SECONDS = 5.0

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.Lock()  # the reading connection and the writer's pipes
        self.db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self.db.row_factory = sqlite3.Row
        # 16 KiB pages for a new file (an existing one keeps its own): a stored product is about 1 KB, and with
        # the default 4 KiB pages the writer spent about a fifth more time storing a million of them.
        self.db.execute("PRAGMA page_size=16384")
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        if "batch" not in {r[1] for r in self.db.execute("PRAGMA table_info(requests)")}:
            self.db.execute("ALTER TABLE requests ADD COLUMN batch TEXT")  # a database made before batches were kept
        self.db.commit()
        self._writer: subprocess.Popen[bytes] | None = None
        self._outbox: _Outbox | None = None  # the writer's stdin
        self._pending = False  # written since the last drain
        self._last_write = 0.0

    # -- the writer process --------------------------------------------------------------------------------
    def _start_writer(self) -> subprocess.Popen[bytes]:
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "writer.py")
        writer = subprocess.Popen(
            [sys.executable, script, self.path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0
        )
        if hasattr(fcntl, "F_SETPIPE_SZ"):  # room for a few batches, so sending one rarely waits for the writer
            with contextlib.suppress(OSError):
                fcntl.fcntl(writer.stdin.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)  # type: ignore[union-attr]
        self._writer, self._outbox = writer, _Outbox(writer.stdin)
        threading.Thread(target=self._stop_when_idle, name="sandbox-writer-idle", daemon=True).start()
        return writer

    def _stop_when_idle(self) -> None:
        while True:
            time.sleep(1.0)
            with self.lock:
                if time.monotonic() - self._last_write >= self.IDLE_SECONDS:
                    try:
                        self._stop_writer()
                    except (OSError, RuntimeError):
                        logging.getLogger(__name__).exception("the sandbox's writer process stopped badly")
                    return

    def _stop_writer(self) -> None:
        """Stop the writer (it stores what it was sent first) and report what failed since the last drain."""
        writer, outbox = self._writer, self._outbox
        if writer is None or outbox is None:
            return
        try:
            failure = self._sync(writer)
        finally:
            self._writer = self._outbox = None
            outbox.close()
            writer.stdin.close()  # type: ignore[union-attr]
            writer.wait()
            writer.stdout.close()  # type: ignore[union-attr]
        if failure:
            logging.getLogger(__name__).error("the sandbox failed to store writes: %s", failure)

    def _send(self, frame: bytes) -> None:
        writer = self._writer or self._start_writer()
        try:
            self._outbox.put(_FRAME.pack(len(frame)) + frame)  # type: ignore[union-attr]
        except OSError as exc:
            self._lost(writer)
            raise RuntimeError("the sandbox's writer process stopped") from exc

    def _sync(self, writer: subprocess.Popen[bytes]) -> str:
        try:
            self._outbox.put(_FRAME.pack(1) + b"s")  # type: ignore[union-attr]
            size = _FRAME.unpack(_read_exactly(writer.stdout, _FRAME.size))[0]  # type: ignore[arg-type]
            answer = _read_exactly(writer.stdout, size).decode()  # type: ignore[arg-type]
        except (OSError, RuntimeError) as exc:
            self._lost(writer)
            raise RuntimeError("the sandbox's writer process stopped") from exc
        self._pending = False
        return answer

    def _lost(self, writer: subprocess.Popen[bytes]) -> None:
        """Forget a writer that died (what it had not stored is lost); the next write starts another."""
        outbox = self._outbox
        if self._writer is writer:
            self._writer = self._outbox = None
        self._pending = False
        writer.kill()
        writer.wait()
        if outbox is not None:
            outbox.close()  # its thread stops at the broken pipe

    # -- the store's calls ---------------------------------------------------------------------------------
    def write(self, statements: list[Statement], body: bytes | None = None) -> None:
        """Have each ``(sql, rows, text_column)`` run for each of its rows, all or none of them, after what was
        written before. In the ``text_column`` of each row (if an int) is UTF-8 text as bytes, stored as text:
        it goes to the writer as it is, not inside the frame's JSON (which would have to escape it). A
        ``(column, key)`` text column is filled by the writer from ``body``, the request's JSON as it came: the
        writer splits out each item's text, so the server's event loop does not (a queue request's body is
        read once there, for the checks, and handed over whole)."""
        texts: list[bytes] = []

        def text(value: Any) -> int:
            if type(value) is not bytes:
                raise TypeError(f"{type(value).__name__} is not a value SQLite stores")
            texts.append(value)
            return len(value)

        head = orjson.dumps(statements, default=text)
        frame = b"".join([b"w", _FRAME.pack(len(head)), head, *texts, body or b""])
        with self.lock:
            self._send(frame)
            self._pending = True
            self._last_write = time.monotonic()

    def drain(self) -> None:
        """Wait until everything written is stored; raise if some of it could not be."""
        with self.lock:
            failure = self._sync(self._writer) if self._pending and self._writer is not None else ""
        if failure:
            raise RuntimeError(f"the sandbox failed to store writes: {failure}")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Rows of a SELECT, with everything written before stored."""
        self.drain()
        with self.lock:
            return self.db.execute(sql, params).fetchall()

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        """Run a change and wait until it is stored."""
        self.executemany(sql, [params])

    def executemany(self, sql: str, params: list[tuple[Any, ...]]) -> None:
        """Run a change for each of ``params`` (all or none) and wait until it is stored."""
        self.write([(sql, params, None)])
        self.drain()

    def close(self) -> None:
        """Store what was written and stop the writer."""
        with self.lock:
            self._stop_writer()
            self.db.close()


_FRAME = struct.Struct("<Q")  # a frame's length, before it (sandbox/writer.py's HEADER)


def _write_all(stream: Any, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[stream.write(view) :]


def _read_exactly(stream: Any, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            raise RuntimeError("the sandbox's writer process stopped")
        data += chunk
    return data


def _bool_text(value: Any) -> bool:
    """Stock2Shop's DTO rule: "false", "0" and "" are false, other non-empty strings true."""
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "")
    return bool(value)


def _check_product(index: int, item: Any, sources: dict[int, str]) -> list[str]:
    problems = []
    if (
        not isinstance(item, dict)
        or not isinstance(item.get("source"), dict)
        or not isinstance(item.get("product"), dict)
    ):
        return [f"item {index}: must be an object with 'source' and 'product'"]
    source, product = item["source"], item["product"]
    problems += [f"item {index}: source.{k} is required" for k in REQUIRED_SOURCE if source.get(k) in (None, "")]
    if str(source.get("source_id", "")).isdigit() and int(source["source_id"]) not in sources:
        problems.append(f"item {index}: source_id {source['source_id']} is not a source of this client")
    if not product.get("title"):
        problems.append(f"item {index}: product.title is required")
    variant = product.get("variants")
    if isinstance(variant, list):
        problems.append(f"item {index}: product.variants must be one object (one variant per item), not a list")
    elif not isinstance(variant, dict):
        problems.append(f"item {index}: product.variants is required")
    else:
        problems += [
            f"item {index}: variants.{k} is required" for k in REQUIRED_VARIANT if variant.get(k) in (None, "")
        ]
        for key in ("qty", "price", "grams"):
            if variant.get(key) is not None and not isinstance(variant[key], (int, float)):
                problems.append(f"item {index}: variants.{key} must be a number")
    options = product.get("options") or []
    if len(options) > 3:
        problems.append(f"item {index}: a product has at most 3 options")
    return problems


def _check_customer(index: int, item: Any, sources: dict[int, str]) -> list[str]:
    if (
        not isinstance(item, dict)
        or not isinstance(item.get("source"), dict)
        or not isinstance(item.get("customer"), dict)
    ):
        return [f"item {index}: must be an object with 'source' and 'customer'"]
    source, customer = item["source"], item["customer"]
    problems = [
        f"item {index}: source.{k} is required"
        for k in ("source_id", "source_customer_code", "customer_active")
        if source.get(k) in (None, "")
    ]
    if str(source.get("source_id", "")).isdigit() and int(source["source_id"]) not in sources:
        problems.append(f"item {index}: source_id {source['source_id']} is not a source of this client")
    if _bool_text(source.get("customer_active", "")) and not (customer.get("email") or "").strip():
        problems.append(f"item {index}: customer.email cannot be blank")
    return problems


def _batch_key(codes: list[str]) -> str:
    """A batch's identity: a digest of the variant (or customer) codes it carries, in order."""
    return hashlib.sha1("\n".join(codes).encode(), usedforsecurity=False).hexdigest()[:16]


PRODUCT_UPSERT = """
    INSERT INTO products (source_id, source_variant_code, source_product_code, sku, product_active, payload,
                          first_received, last_received)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (source_id, source_variant_code) DO UPDATE SET
      source_product_code = excluded.source_product_code, sku = excluded.sku,
      product_active = excluded.product_active, payload = excluded.payload,
      times_received = times_received + 1, last_received = excluded.last_received"""
CUSTOMER_UPSERT = """
    INSERT INTO customers (source_id, source_customer_code, customer_active, payload, first_received, last_received)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (source_id, source_customer_code) DO UPDATE SET
      customer_active = excluded.customer_active, payload = excluded.payload,
      times_received = times_received + 1, last_received = excluded.last_received"""
REQUEST_INSERT = (
    "INSERT INTO requests (at, method, path, status, items, content_encoding, batch) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_BLANK = (None, "")
_SQLITE_INTEGER = range(-(2**63), 2**63)
_ACTIVE = {"true": "true", "false": "false", "1": "true", "0": "false"}  # _active_text of the usual values


def _active_text(value: Any) -> str:
    """An ``*_active`` flag as stored: ``"true"`` or ``"false"`` (:func:`_bool_text`)."""
    return "true" if _bool_text(value) else "false"


def _payload(item: Any) -> bytes:
    """The item as stored, UTF-8 JSON text (read back by ``/sandbox/products`` and ``/sandbox/customers``)."""
    return orjson.dumps(item)


def _sorted_keys(value: Any) -> Any:
    """A stored payload as it is read back: every object's keys in order (payloads are stored as they came)."""
    if isinstance(value, dict):
        return {k: _sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(v) for v in value]
    return value


def _product_row(item: dict[str, Any], now: float) -> tuple[Any, ...]:
    """The ``products`` row of an item :func:`_check_product` accepted (its values as PRODUCT_UPSERT takes them)."""
    source, variant = item["source"], item["product"]["variants"]
    return (
        int(source["source_id"]),
        str(variant["source_variant_code"]),
        str(source["source_product_code"]),
        str(variant["sku"]),
        _active_text(source["product_active"]),
        _payload(item),
        now,
        now,
    )


def _customer_row(item: dict[str, Any], now: float) -> tuple[Any, ...]:
    """The ``customers`` row of an item :func:`_check_customer` accepted."""
    source = item["source"]
    return (
        int(source["source_id"]),
        str(source["source_customer_code"]),
        _active_text(source["customer_active"]),
        _payload(item),
        now,
        now,
    )


# -- the quick path: a usual batch decoded straight into the fields the checks look at ------------------------
# msgspec decodes only these fields (skipping, but still checking the syntax of, everything else) and hands each
# item back as its raw JSON text, stored as it came; orjson.loads would build every object of the batch instead.
# A field of the wrong JSON type fails the decode, and the batch then gets the full checks. The structs are not
# tracked by Python's garbage collector (``gc=False``: decoded JSON holds no cycles): a million items made four
# million tracked objects, and the collections they set off took a quarter of the time spent on the items (2.9 s
# per million, 2.2 s with the collector off; 1.9 s now, with the options only counted).


class _Source(msgspec.Struct, gc=False):
    source_id: str = ""
    source_product_code: str = ""
    product_active: str = ""
    sync_token: Any = None
    fetch_token: Any = None


class _Variant(msgspec.Struct, gc=False):
    source_variant_code: str = ""
    sku: str = ""
    qty: int | float | None = None
    price: int | float | None = None
    grams: int | float | None = None


class _Product(msgspec.Struct, gc=False):
    variants: _Variant
    title: Any = None
    options: list[msgspec.Raw] | None = None  # only counted: each option's text is not decoded into a dict


class _ProductItem(msgspec.Struct, gc=False):
    source: _Source
    product: _Product


class _CustomerSource(msgspec.Struct, gc=False):
    source_id: str = ""
    source_customer_code: str = ""
    customer_active: str = ""


class _Customer(msgspec.Struct, gc=False):
    email: Any = None


class _CustomerItem(msgspec.Struct, gc=False):
    source: _CustomerSource
    customer: _Customer


def _decoders(key: str, item: type) -> tuple[msgspec.json.Decoder[Any], msgspec.json.Decoder[Any]]:
    """Decoders of ``{key: [item, ...]}``: one into the items' raw JSON texts, one into their checked fields."""
    raw = msgspec.defstruct(f"Raw_{key}", [(key, list[msgspec.Raw])])
    fields = msgspec.defstruct(f"Fields_{key}", [(key, list[item])])
    return msgspec.json.Decoder(raw), msgspec.json.Decoder(fields)


_PRODUCT_DECODERS = _decoders("system_products", _ProductItem)
_CUSTOMER_DECODERS = _decoders("system_customers", _CustomerItem)


def _usual_items(
    raw: bytes, key: str, decoders: tuple[Any, Any], *, texts: bool = True
) -> tuple[list[Any] | None, list[Any]] | None:
    """A batch body's items, as raw texts (unless ``texts`` is False: None then) and as checked fields, when it
    is well-formed UTF-8 JSON of the usual shape with 1 to 500 items; None for any other body (which then gets the
    full look). The fields' decoder checks the syntax of all of the body, also where it skips."""
    if not raw.isascii():
        try:  # msgspec checks the syntax of what it skips, but not its UTF-8
            raw.decode()
        except UnicodeDecodeError:
            return None
    try:
        fields = getattr(decoders[1].decode(raw), key)
        items = getattr(decoders[0].decode(raw), key) if texts else None
    except (msgspec.DecodeError, RecursionError):
        return None
    if not 0 < len(fields) <= 500:
        return None
    return items, fields


def _usual_product_rows(
    raw: bytes, source_ids: dict[str, int], now: float, *, texts: bool = True
) -> list[tuple[Any, ...]] | None:
    """The rows of a products batch whose items are all usual, in one pass; None when the body or one item is
    not usual. With ``texts=False`` the payload column is None, for the writer to fill from the body (see
    :meth:`_Store.write`): the body is then decoded once here, not twice.

    Usual: the objects are objects, ``source_id`` is the text of one of ``source_ids`` (``{"101": 101}``), the
    codes, SKU and ``product_active`` are non-blank text, the other required fields are there, the numbers are
    numbers and there are at most 3 options. :func:`_check_product` finds nothing wrong with such an item and
    :func:`_product_row` makes this very row of it (its payload as the item's text, as sent); for any other
    batch the caller asks those two.
    """
    usual = _usual_items(raw, "system_products", _PRODUCT_DECODERS, texts=texts)
    if usual is None:
        return None
    rows = []
    append = rows.append
    items, fields = usual
    for text, item in zip(repeat(None) if items is None else items, fields, strict=texts):
        source, product = item.source, item.product
        variant, sid, active, options = product.variants, source.source_id, source.product_active, product.options
        if not (
            sid in source_ids
            and variant.source_variant_code
            and variant.sku
            and source.source_product_code
            and active
            and source.sync_token not in _BLANK
            and source.fetch_token not in _BLANK
            and product.title
            and (not options or (type(options) is list and len(options) <= 3))
        ):
            return None
        append(
            (
                source_ids[sid],
                variant.source_variant_code,
                source.source_product_code,
                variant.sku,
                _ACTIVE.get(active) or _active_text(active),
                None if text is None else bytes(text),
                now,
                now,
            )
        )
    return rows


def _usual_customer_rows(
    raw: bytes, source_ids: dict[str, int], now: float, *, texts: bool = True
) -> list[tuple[Any, ...]] | None:
    """As :func:`_usual_product_rows`, for customers (:func:`_check_customer`, :func:`_customer_row`)."""
    usual = _usual_items(raw, "system_customers", _CUSTOMER_DECODERS, texts=texts)
    if usual is None:
        return None
    rows = []
    append = rows.append
    items, fields = usual
    for text, item in zip(repeat(None) if items is None else items, fields, strict=texts):
        source = item.source
        sid, code, active = source.source_id, source.source_customer_code, source.customer_active
        if not (sid in source_ids and code and active):
            return None
        active_text = _ACTIVE.get(active) or _active_text(active)
        if active_text == "true":
            email = item.customer.email
            if type(email) is not str or not email.strip():
                return None
        append((source_ids[sid], code, active_text, None if text is None else bytes(text), now, now))
    return rows


@dataclass(frozen=True)
class _Entity:
    """What a queue endpoint takes: the body's key, the checks and rows of its items, where they are kept."""

    key: str
    check: Any  # (index, item, sources) -> problems
    row: Any  # (item, now) -> row
    usual_rows: Any  # (body, source ids, now, texts=) -> rows | None
    upsert: str
    payload_column: int  # where a row has its payload


PRODUCTS = _Entity("system_products", _check_product, _product_row, _usual_product_rows, PRODUCT_UPSERT, 5)
CUSTOMERS = _Entity("system_customers", _check_customer, _customer_row, _usual_customer_rows, CUSTOMER_UPSERT, 3)


def create_app(db_path: str, settings: SandboxSettings | None = None) -> FastAPI:
    """Build the sandbox application over a SQLite file."""
    settings = settings or SandboxSettings()
    store = _Store(db_path)
    tokens: dict[str, str] = {}  # username -> current token (a new login invalidates the old one)
    calls: dict[str, deque[float]] = defaultdict(deque)
    rate_lock = threading.Lock()
    app = FastAPI(title="Stock2Shop sandbox", docs_url="/sandbox/docs", openapi_url="/sandbox/openapi.json")
    app.state.settings = settings
    app.state.store = store
    faults = install_faults(app, settings.faults)

    def log_request(
        request: Request,
        status: int,
        items: int = 0,
        batch: str | None = None,
        changes: list[Statement] | None = None,
        request_body: bytes | None = None,
    ) -> None:
        """Record the request, in the same transaction as the ``changes`` it made (if any; ``request_body`` is
        the request's JSON when they take their texts from it, see :meth:`_Store.write`)."""
        row = (time.time(), request.method, request.url.path, status, items, request.headers.get("content-encoding"))
        store.write([*(changes or ()), (REQUEST_INSERT, [(*row, batch)], None)], request_body)

    def answer(
        request: Request,
        status: int,
        body: Any,
        items: int = 0,
        headers: dict[str, str] | None = None,
        batch: str | None = None,
        changes: list[Statement] | None = None,
        request_body: bytes | None = None,
    ) -> JSONResponse:
        log_request(request, status, items, batch, changes, request_body)
        advertise = settings.rate_limit > 0 and settings.advertise_rate_limit
        limit = {"x-S2S-RateLimit": f"{settings.rate_limit:g}"} if advertise else {}
        return JSONResponse(body, status_code=status, headers={**limit, **(headers or {})})

    def authorise(request: Request) -> tuple[str | None, JSONResponse | None]:
        token = request.query_params.get("token")
        user = next((u for u, t in tokens.items() if token and secrets.compare_digest(t, token)), None)
        if user is None:
            return None, answer(request, 401, {"errors": "invalid or expired token"})
        if faults.token_expired(token):  # an injected expiry: the token has served its requests
            tokens.pop(user, None)
            return None, answer(request, 401, {"errors": "invalid or expired token"})
        if settings.rate_limit > 0:
            now = time.monotonic()
            with rate_lock:
                window = calls[user]
                while window and now - window[0] >= 1.0:
                    window.popleft()
                if len(window) >= settings.rate_limit:
                    retry = max(1.0 - (now - window[0]), 0.05)
                    return user, answer(
                        request, 429, {"errors": "rate limit exceeded"}, headers={"Retry-After": f"{retry:.2f}"}
                    )
                window.append(now)
        return user, None

    @app.post("/v1/users/authenticate")
    async def authenticate(request: Request) -> JSONResponse:
        try:
            body = await request.json()
            creds = body["system_user_auth"]
            username, password = creds["username"], creds["password"]
        except (ValueError, KeyError, TypeError):
            return answer(request, 400, {"errors": "body must be {'system_user_auth': {'username', 'password'}}"})
        expected = settings.users.get(username)
        if expected is None or not secrets.compare_digest(expected, str(password)):
            return answer(request, 401, {"errors": "invalid username or password"})
        tokens[username] = secrets.token_hex(20)
        user = {
            "id": 1,
            "client_id": settings.client_id,
            "token": tokens[username],
            "active": True,
            "admin": True,
            "roles": [],
            "sources": [{"id": sid, "description": d} for sid, d in settings.sources.items()],
        }
        return answer(request, 200, {"system_user": user})

    @app.get("/v1/users/valid_token/{token}")
    async def valid_token(request: Request, token: str) -> JSONResponse:
        valid = any(secrets.compare_digest(t, token) for t in tokens.values())
        return answer(request, 200 if valid else 401, {"valid": valid})

    @app.get("/v1/sources")
    async def sources(request: Request) -> JSONResponse:
        _, refused = authorise(request)
        if refused:
            return refused
        body = [
            {
                "id": sid,
                "source_id": sid,
                "client_id": settings.client_id,
                "description": desc,
                "type": "apifact",
                "sync_token": "0",
                "active": True,
            }
            for sid, desc in settings.sources.items()
        ]
        return answer(request, 200, {"system_sources": body})

    async def _queue(request: Request, entity: _Entity) -> JSONResponse:
        _, refused = authorise(request)
        if refused:
            return refused
        raw = await request.body()
        if request.headers.get("content-encoding", "").lower() == "gzip":
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError):
                return answer(request, 400, {"errors": "body is not valid gzip"})
        now = time.time()
        # A usual batch's payloads are the items' texts, which the writer splits out of the body it is handed
        rows = entity.usual_rows(raw, usual_source_ids(), now, texts=False)
        text_column: int | tuple[int, str] = (entity.payload_column, entity.key)
        kept: bytes | None = raw
        if rows is None:  # not a usual batch: the full look, which says what is wrong with it
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return answer(request, 400, {"errors": "body is not JSON"})
            key = entity.key
            items = body.get(key) if isinstance(body, dict) else None
            if not isinstance(items, list) or not items:
                return answer(request, 400, {"errors": f"body must be {{'{key}': [ ... ]}} with at least one item"})
            if len(items) > 500:
                return answer(request, 413, {"errors": "at most 500 items per request"})
            problems = [p for i, item in enumerate(items) for p in entity.check(i, item, settings.sources)]
            if problems:
                return answer(request, 400, {"errors": problems[:50]}, items=len(items))
            rows = [entity.row(item, now) for item in items]  # may raise (HTTP 500), as storing such items did
            if any(r[0] not in _SQLITE_INTEGER for r in rows):  # SQLite would refuse the row: HTTP 500, as it did
                raise OverflowError("Python int too large to convert to SQLite INTEGER")
            text_column, kept = entity.payload_column, None  # each row carries its payload
            del body, items
        batch = _batch_key([r[1] for r in rows])
        # The rows and the request's record go to the writer together, and are stored together
        return answer(
            request,
            200,
            {"queued": len(rows)},
            items=len(rows),
            batch=batch,
            changes=[(entity.upsert, rows, text_column)],
            request_body=kept,
        )

    def usual_source_ids() -> dict[str, int]:
        return {str(s): s for s in settings.sources if type(s) is int and s in _SQLITE_INTEGER}

    @app.post("/v1/products/queue")
    async def products_queue(request: Request) -> JSONResponse:
        return await _queue(request, PRODUCTS)

    @app.post("/v1/customers/queue")
    async def customers_queue(request: Request) -> JSONResponse:
        return await _queue(request, CUSTOMERS)

    # -- orders (our assumed contract; see the README) --------------------------------------------------
    def _order(request: Request, source_id: int, order_id: str) -> tuple[sqlite3.Row | None, JSONResponse | None]:
        _, refused = authorise(request)
        if refused:
            return None, refused
        rows = store.query("SELECT * FROM orders WHERE order_id = ? AND source_id = ?", (order_id, source_id))
        if not rows:
            return None, answer(request, 404, {"errors": f"no order {order_id} for source {source_id}"})
        return rows[0], None

    @app.get("/v1/sources/{source_id}/orders/pending")
    async def pending_orders(request: Request, source_id: int, limit: int = 100, offset: int = 0) -> JSONResponse:
        _, refused = authorise(request)
        if refused:
            return refused
        if source_id not in settings.sources:
            return answer(request, 404, {"errors": f"source {source_id} is not a source of this client"})
        rows = store.query(
            "SELECT body FROM orders WHERE source_id = ? AND source_order_code IS NULL AND final_error = 0 "
            "ORDER BY seq LIMIT ? OFFSET ?",
            (source_id, max(1, min(limit, 500)), max(offset, 0)),
        )
        return answer(request, 200, {"system_orders": [json.loads(r["body"]) for r in rows]}, items=len(rows))

    @app.post("/v1/sources/{source_id}/orders/{order_id}/source_order_code")
    async def acknowledge_order(request: Request, source_id: int, order_id: str) -> JSONResponse:
        row, refused = _order(request, source_id, order_id)
        if refused:
            return refused
        try:
            body = await request.json()
            code = str(body["source_order_code"]).strip()
        except (ValueError, KeyError, TypeError):
            return answer(request, 400, {"errors": "body must be {'source_order_code': ..., 'source_customer_code'}"})
        if not code:
            return answer(request, 400, {"errors": "source_order_code is blank"})
        if row["source_order_code"] not in (None, code):
            return answer(request, 409, {"errors": f"order {order_id} already has {row['source_order_code']}"})
        store.execute(
            "UPDATE orders SET source_order_code = ?, source_customer_code = ?, ack_count = ack_count + 1 "
            "WHERE order_id = ?",
            (code, body.get("source_customer_code"), order_id),
        )
        return answer(request, 200, {"system_order": {"id": order_id, "source_order_code": code}})

    @app.post("/v1/sources/{source_id}/orders/{order_id}/error")
    async def order_error(request: Request, source_id: int, order_id: str) -> JSONResponse:
        _, refused = _order(request, source_id, order_id)
        if refused:
            return refused
        try:
            body = await request.json()
            error = str(body["error"])
        except (ValueError, KeyError, TypeError):
            return answer(request, 400, {"errors": "body must be {'error': ..., 'final': bool}"})
        store.execute(
            "UPDATE orders SET error = ?, error_count = error_count + 1, final_error = ? WHERE order_id = ?",
            (error, 1 if body.get("final") else 0, order_id),
        )
        return answer(request, 200, {"status": "recorded"})

    @app.post("/sandbox/orders")
    async def sandbox_add_orders(request: Request) -> JSONResponse:
        """Put orders in the sandbox as a channel would: ``{"system_orders": [...]}``, each with an ``id`` and
        line items carrying the ``source_id`` they go to."""
        body = await request.json()
        orders = body.get("system_orders") if isinstance(body, dict) else None
        if not isinstance(orders, list):
            return JSONResponse({"errors": "body must be {'system_orders': [...]}"}, status_code=400)
        rows = []
        for order in orders:
            lines = order.get("line_items") or [{}] if isinstance(order, dict) else [{}]
            source = order.get("source_id") or (lines[0] or {}).get("source_id") if isinstance(order, dict) else None
            if not isinstance(order, dict) or order.get("id") in (None, "") or source is None:
                return JSONResponse({"errors": "each order needs an id and a source_id"}, status_code=400)
            rows.append((str(order["id"]), int(source), json.dumps(order)))
        store.executemany(
            "INSERT OR REPLACE INTO orders (order_id, source_id, body) VALUES (?, ?, ?)",
            rows,
        )
        return JSONResponse({"added": len(rows)})

    @app.get("/sandbox/orders")
    async def sandbox_orders(source_id: int | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE source_id = ?", (source_id,)) if source_id is not None else ("", ())
        rows = store.query(f"SELECT * FROM orders {where} ORDER BY seq", params)  # noqa: S608 - fixed text
        return [{**{k: r[k] for k in r.keys() if k != "body"}, "order": json.loads(r["body"])} for r in rows]  # noqa: SIM118

    @app.get("/v1/queue/summary")
    async def queue_summary(request: Request) -> JSONResponse:
        _, refused = authorise(request)
        if refused:
            return refused
        # The sandbox processes queue items as they arrive, so nothing is ever left unprocessed.
        return answer(request, 200, {"system_queue_summary": {"processing": 0, "failed": 0}})

    # -- read-back for tests and people ------------------------------------------------------------
    def _rows(table: str, source_id: int | None) -> list[dict[str, Any]]:
        where, params = ("WHERE source_id = ?", (source_id,)) if source_id is not None else ("", ())
        key = "source_variant_code" if table == "products" else "source_customer_code"
        rows = store.query(f"SELECT * FROM {table} {where} ORDER BY source_id, {key}", params)  # noqa: S608 - fixed names
        return [{**dict(r), "payload": _sorted_keys(json.loads(r["payload"]))} for r in rows]

    @app.get("/sandbox/products")
    async def sandbox_products(source_id: int | None = None) -> list[dict[str, Any]]:
        return _rows("products", source_id)

    @app.get("/sandbox/customers")
    async def sandbox_customers(source_id: int | None = None) -> list[dict[str, Any]]:
        return _rows("customers", source_id)

    @app.get("/sandbox/stats")
    async def sandbox_stats() -> dict[str, Any]:
        def count(sql: str) -> int:
            return int(store.query(sql)[0][0])

        return {
            "products": count("SELECT COUNT(*) FROM products"),
            "customers": count("SELECT COUNT(*) FROM customers"),
            "logins": count("SELECT COUNT(*) FROM requests WHERE path = '/v1/users/authenticate' AND status = 200"),
            "requests": count("SELECT COUNT(*) FROM requests"),
            "rate_limited": count("SELECT COUNT(*) FROM requests WHERE status = 429"),
            "accepted_batches": count("SELECT COUNT(*) FROM requests WHERE path LIKE '%/queue' AND status = 200"),
            "max_items_per_request": count("SELECT COALESCE(MAX(items), 0) FROM requests"),
            "token_expiries": int(faults.injected.get("token_expired", 0)),
            "orders": count("SELECT COUNT(*) FROM orders"),
            "orders_acknowledged": count("SELECT COUNT(*) FROM orders WHERE source_order_code IS NOT NULL"),
            "order_acknowledgements": count("SELECT COALESCE(SUM(ack_count), 0) FROM orders"),
        }

    @app.get("/sandbox/received")
    async def sandbox_received(source_id: int | None = None, entity: str = "products") -> dict[str, int]:
        """How many times each variant (or customer) code was received: ``{code: times_received}``."""
        customers = entity == "customers"
        table, key = ("customers", "source_customer_code") if customers else ("products", "source_variant_code")
        where, params = ("WHERE source_id = ?", (source_id,)) if source_id is not None else ("", ())
        rows = store.query(f"SELECT {key}, times_received FROM {table} {where}", params)  # noqa: S608 - fixed names
        return {r[0]: int(r[1]) for r in rows}

    @app.get("/sandbox/batches")
    async def sandbox_batches() -> list[dict[str, Any]]:
        """Each distinct batch stored (by the codes it carried, in order) and how many times it was received."""
        rows = store.query(
            "SELECT batch, path, MIN(items) AS items, COUNT(*) AS received FROM requests "
            "WHERE batch IS NOT NULL GROUP BY batch, path ORDER BY MIN(id)"
        )
        return [dict(r) for r in rows]

    @app.get("/sandbox/requests")
    async def sandbox_requests() -> list[dict[str, Any]]:
        return [dict(r) for r in store.query("SELECT * FROM requests ORDER BY id")]

    @app.post("/sandbox/reset")
    async def sandbox_reset() -> dict[str, str]:
        store.execute("DELETE FROM products")
        store.execute("DELETE FROM customers")
        store.execute("DELETE FROM orders")
        store.execute("DELETE FROM requests")
        return {"status": "reset"}

    @app.get("/health")
    async def health() -> dict[str, Any]:
        # The process id lets a start script tell its own sandbox from another one on the same port.
        return {"status": "ok", "pid": os.getpid(), "sources": sorted(settings.sources)}

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        rows = store.query(
            "SELECT source_id, source_product_code, source_variant_code, sku, product_active, times_received, payload "
            "FROM products ORDER BY source_id, source_product_code, source_variant_code LIMIT 500"
        )
        customers = store.query(
            "SELECT source_id, source_customer_code, customer_active, payload FROM customers ORDER BY 1, 2 LIMIT 500"
        )

        def cell(value: Any) -> str:
            return f"<td>{html.escape(str(value))}</td>"

        product_rows = "".join(
            "<tr>"
            + "".join(
                cell(r[k]) for k in ("source_id", "source_product_code", "source_variant_code", "sku", "product_active")
            )
            + cell(json.loads(r["payload"])["product"]["title"])
            + cell(json.loads(r["payload"])["product"]["variants"].get("price"))
            + cell(json.loads(r["payload"])["product"]["variants"].get("qty"))
            + cell(r["times_received"])
            + "</tr>"
            for r in rows
        )
        customer_rows = "".join(
            "<tr>"
            + "".join(cell(r[k]) for k in ("source_id", "source_customer_code", "customer_active"))
            + cell(json.loads(r["payload"])["customer"].get("email"))
            + "</tr>"
            for r in customers
        )
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>Stock2Shop sandbox</title>"
            "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 6px}</style>"
            "</head><body><h1>Stock2Shop sandbox</h1>"
            "<p>JSON: <a href='/sandbox/products'>/sandbox/products</a> · "
            "<a href='/sandbox/customers'>/sandbox/customers</a>"
            " · <a href='/sandbox/stats'>/sandbox/stats</a> · <a href='/sandbox/requests'>/sandbox/requests</a></p>"
            f"<h2>Products ({len(rows)} variants shown)</h2><table><tr><th>source</th><th>product code</th>"
            "<th>variant code</th>"
            "<th>sku</th><th>active</th><th>title</th><th>price</th><th>qty</th><th>times received</th></tr>"
            f"{product_rows}</table><h2>Customers ({len(customers)} shown)</h2>"
            "<table><tr><th>source</th><th>code</th>"
            f"<th>active</th><th>email</th></tr>{customer_rows}</table></body></html>"
        )

    return app
