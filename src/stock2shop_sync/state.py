"""The state store: what this project must remember between runs, in a database every worker reaches.

* ``s2s_order_ledger``: one row per (source, Stock2Shop order): its status, the ERP document number, the last
  error, and the claim of the run working on it. It is what makes order raising exactly-once:

  - an order is *claimed* before the ERP is touched, with compare-and-set on an owner token and a lease, so two
    runners (an overlapping backfill, a zombie task and its retry, a CLI run beside the scheduler) never work on
    the same order at once; a dead runner's claim expires, and the next claimant resolves it by looking the
    document up in the ERP rather than raising it again;
  - only refusals of the order's data count towards giving up (``data_failures``); transient failures (network,
    timeouts, 5xx, a locked table) are retried on every run, after a growing pause (``next_attempt_at``), and
    alerted on once they have lasted too long (``failing_since``);
  - a given-up order keeps the order as received (``order_json``), so ``retry-order`` can bring it back even
    after Stock2Shop took it off the pending list.
* ``s2s_synced_variants``: the SKUs each source has had accepted by Stock2Shop (orders are routed by them), with
  ``removed_at`` set on those later sent as inactive or deleted, so an order for one can say it was discontinued
  (and when) rather than that the source never had it.
* ``s2s_api_tokens``: the session token of an API user that every worker shares (Stock2Shop invalidates older
  tokens at each login, so two workers logging in on their own would keep logging each other out), encrypted
  with a key derived from that user's password, which only the Airflow connection holds.

Where: the Airflow connection ``s2s_state`` (any SQLAlchemy URL; PostgreSQL for a distributed deployment), else
``S2S_STATE_URL`` (``make demo``/``make up`` set a local SQLite file). There is no silent fallback: with neither
set, or with the database out of reach, :class:`StateStore` raises :class:`StateStoreError` naming where it looked.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

STATE_CONN_ID = "s2s_state"

metadata = sa.MetaData()

order_ledger = sa.Table(
    "s2s_order_ledger",
    metadata,
    sa.Column("source_id", sa.String(64), primary_key=True),
    sa.Column("order_id", sa.String(64), primary_key=True),
    sa.Column("external_order_no", sa.String(100)),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("document_number", sa.String(100)),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # Added after the first release: _upgrade() adds them to an older ledger.
    sa.Column("owner", sa.String(64)),
    sa.Column("lease_until", sa.DateTime(timezone=True)),
    sa.Column("data_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("transient_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("failing_since", sa.DateTime(timezone=True)),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
    sa.Column("order_json", sa.Text),
)

synced_variants = sa.Table(
    "s2s_synced_variants",
    metadata,
    sa.Column("source_id", sa.String(64), primary_key=True),
    sa.Column("sku_key", sa.String(255), primary_key=True),
    sa.Column("sku", sa.String(255), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # Added after the first release (_upgrade() adds it): when the source removed the SKU from Stock2Shop (sent it
    # as inactive or deleted); NULL while the source holds it.
    sa.Column("removed_at", sa.DateTime(timezone=True)),
)

api_tokens = sa.Table(
    "s2s_api_tokens",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("token", sa.Text),  # encrypted with a key derived from the API password (see SharedToken)
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

#: Ledger statuses. ``raising``: an attempt started (the ERP may or may not hold the document);
#: ``raised``: the ERP holds it; ``acknowledged``: Stock2Shop (or the file drop) was told; ``failed``: the
#: last attempt failed and will be retried; ``gave_up``: ``max_attempts`` refusals of its data, not retried;
#: ``retry``: an operator asked for a given-up order to be raised again (from ``order_json``).
STATUSES = ("raising", "raised", "acknowledged", "failed", "gave_up", "retry")
#: Rows per statement when the synced-variant list is written (bounds an IN list's parameters).
_BATCH = 500
#: Columns :meth:`StateStore.record` may set besides the status, document number and error.
_EXTRA = ("data_failures", "transient_failures", "failing_since", "next_attempt_at", "order_json", "attempts")


class StateStoreError(RuntimeError):
    """The state store is not configured, or cannot be reached; the message says where it looked."""


@dataclass(frozen=True)
class LedgerEntry:
    """One order's row in the ledger."""

    source_id: str
    order_id: str
    status: str
    attempts: int
    document_number: str | None
    last_error: str | None
    owner: str | None = None
    lease_until: datetime | None = None
    data_failures: int = 0
    transient_failures: int = 0
    failing_since: datetime | None = None
    next_attempt_at: datetime | None = None
    order_json: str | None = None
    external_order_no: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    """Datetimes read back from SQLite and MariaDB come without a zone; they were written in UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def configured_url() -> tuple[str, str]:
    """The state store's SQLAlchemy URL and where it was found (for messages).

    :raises StateStoreError: when neither the ``s2s_state`` connection nor ``S2S_STATE_URL`` is set, or the
        connection cannot be read (a secrets backend out of reach is not the same as no connection).
    """
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(STATE_CONN_ID)
    except Exception as exc:  # noqa: BLE001 - told apart below by name: the SDK and core raise different classes
        if type(exc).__name__ != "AirflowNotFoundException" and not isinstance(exc, ImportError):
            raise StateStoreError(
                f"could not read the Airflow connection {STATE_CONN_ID!r} (the order ledger's database): "
                f"{type(exc).__name__}; nothing was raised"
            ) from None
    else:
        return _sqlalchemy_url(conn.get_uri()), f"the Airflow connection {STATE_CONN_ID!r}"
    if url := os.environ.get("S2S_STATE_URL"):
        return url, "S2S_STATE_URL"
    raise StateStoreError(
        "no state store is configured: the order ledger and the synced-SKU list need a database every worker "
        f"reaches. Set the Airflow connection {STATE_CONN_ID!r} (e.g. AIRFLOW_CONN_S2S_STATE="
        "'postgresql://user:password@host:5432/s2s_state') or S2S_STATE_URL to a SQLAlchemy URL; "
        "`make demo` and `make up` set a local SQLite file for one machine."
    )


def default_url() -> str:
    """The state store's SQLAlchemy URL (see :func:`configured_url`)."""
    return configured_url()[0]


def safe_url(url: str) -> str:
    """``url`` with its password hidden, for messages and ``check-config``."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy can read: say only its scheme
        return url.split(":", 1)[0] + ":..."


def _sqlalchemy_url(uri: str) -> str:
    """Airflow writes ``postgres://`` for conn_type postgres, SQLAlchemy wants ``postgresql://``; and a URL that
    names no driver gets the one installed (SQLAlchemy 2.1 assumes psycopg 3; Airflow ships psycopg2)."""
    if uri.startswith("postgres://"):
        uri = "postgresql" + uri[len("postgres") :]
    if uri.startswith("postgresql://"):
        import importlib.util

        if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
            uri = "postgresql+psycopg2" + uri[len("postgresql") :]
    return uri


_ENGINES: dict[str, sa.Engine] = {}
_ENGINES_LOCK = threading.Lock()
#: Seconds to wait for the state database to answer a new connection: an unreachable store fails the task
#: at once instead of hanging it.
CONNECT_TIMEOUT = 10


def _engine(url: str, where: str = "the state store") -> sa.Engine:
    with _ENGINES_LOCK:
        if url not in _ENGINES:
            kwargs: dict[str, Any] = {"future": True, "pool_pre_ping": True}
            if url.startswith("sqlite"):
                kwargs["connect_args"] = {"timeout": 30}
            elif url.startswith(("postgresql", "mysql", "mariadb")):
                kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
            engine = sa.create_engine(url, **kwargs)
            if url.startswith("sqlite"):
                database = engine.url.database
                if database and database != ":memory:":
                    Path(database).parent.mkdir(parents=True, exist_ok=True)  # as SQLite makes the file itself

                @sa.event.listens_for(engine, "connect")
                def _wal(dbapi_conn: Any, _record: Any) -> None:
                    dbapi_conn.execute("PRAGMA journal_mode=WAL")

            try:
                metadata.create_all(engine)
                _upgrade(engine)
            except sa.exc.SQLAlchemyError as exc:
                engine.dispose()
                reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
                raise StateStoreError(
                    f"the state store ({where}: {safe_url(url)}) cannot be reached: {type(exc).__name__}: "
                    f"{reason}; nothing was raised"
                ) from None
            _ENGINES[url] = engine
        return _ENGINES[url]


def _upgrade(engine: sa.Engine) -> None:
    """Add the columns tables made by an older release lack (nullable, or with a server default): the ledger's
    claim and failure columns, the synced variants' ``removed_at``."""
    inspector = sa.inspect(engine)
    for table in (order_ledger, synced_variants):
        present = {c["name"] for c in inspector.get_columns(table.name)}
        missing = [c for c in table.columns if c.name not in present]
        if not missing:
            continue
        with engine.begin() as conn:
            for column in missing:
                kind = column.type.compile(dialect=engine.dialect)
                default = f" DEFAULT {column.server_default.arg} NOT NULL" if column.server_default is not None else ""
                conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}{default}"))
        log.info("state store: added %s to %s", ", ".join(c.name for c in missing), table.name)


class StateStore:
    """Read and write the ledger and the synced-variant list. Every write commits at once.

    :param url: a SQLAlchemy URL; None: :func:`configured_url`.
    :raises StateStoreError: when no store is configured or it cannot be reached.
    """

    def __init__(self, url: str | None = None) -> None:
        self.where = "the given URL"
        if url is None:
            url, self.where = configured_url()
        self.url = _sqlalchemy_url(url)
        self.engine = _engine(self.url, self.where)

    def describe(self) -> str:
        """Where the ledger lives, password hidden (for ``check-config`` and logs)."""
        return f"{safe_url(self.url)} (from {self.where})"

    # -- order ledger ---------------------------------------------------------------------------------
    def _key(self, source_id: str, order_id: str) -> Any:
        return sa.and_(order_ledger.c.source_id == source_id, order_ledger.c.order_id == order_id)

    def entry(self, source_id: str, order_id: str) -> LedgerEntry | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(order_ledger).where(self._key(source_id, order_id))).first()
        return _entry(row) if row else None

    def entries(self, source_id: str, statuses: Iterable[str] | None = None) -> list[LedgerEntry]:
        query = sa.select(order_ledger).where(order_ledger.c.source_id == source_id)
        if statuses is not None:
            query = query.where(order_ledger.c.status.in_(list(statuses)))
        with self.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(query.order_by(order_ledger.c.order_id))]

    def claim(
        self,
        source_id: str,
        order_id: str,
        external_order_no: str | None,
        *,
        owner: str,
        lease_seconds: float,
        listed_at: datetime | None = None,
    ) -> LedgerEntry | None:
        """Claim an order for one attempt (status ``raising``, attempts + 1) before the ERP is touched.

        Compare-and-set: it succeeds only when no other runner holds a live claim on the order (none, or its
        lease has expired) and the order is not given up. Two runners racing for a new order both try to insert
        its row; the primary key lets one win.

        ``listed_at``: when this runner read its pending list; an order another runner acknowledged since then is
        not claimed (it was pending when listed, and is done now).

        :returns: the entry as claimed, or None when another runner holds it (or it is given up, waiting out a
            pause, or done since).
        """
        now = _now()
        values = {
            "status": "raising",
            "attempts": order_ledger.c.attempts + 1,
            "owner": owner,
            "lease_until": now + timedelta(seconds=lease_seconds),
            "updated_at": now,
        }
        if external_order_no is not None:
            values["external_order_no"] = external_order_no
        free = sa.or_(order_ledger.c.owner.is_(None), order_ledger.c.lease_until < now)
        # Not given up, and not in the pause after a transient failure (after a timed-out create that pause is
        # what lets the ERP finish storing it): checked here, in the same statement, so no run slips past it.
        due = sa.or_(order_ledger.c.next_attempt_at.is_(None), order_ledger.c.next_attempt_at <= now)
        open_ = sa.and_(order_ledger.c.status != "gave_up", due)
        if listed_at is not None:
            done_since = sa.and_(order_ledger.c.status == "acknowledged", order_ledger.c.updated_at >= listed_at)
            open_ = sa.and_(open_, sa.not_(done_since))
        with self.engine.begin() as conn:
            taken = conn.execute(
                order_ledger.update().where(self._key(source_id, order_id), free, open_).values(**values)
            ).rowcount
        if not taken:
            if self.entry(source_id, order_id) is not None:
                return None
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        order_ledger.insert().values(
                            source_id=source_id,
                            order_id=order_id,
                            external_order_no=external_order_no,
                            status="raising",
                            attempts=1,
                            owner=owner,
                            lease_until=now + timedelta(seconds=lease_seconds),
                            created_at=now,
                            updated_at=now,
                        )
                    )
            except sa.exc.IntegrityError:
                return None  # another runner inserted it first: theirs
        entry = self.entry(source_id, order_id)
        return entry if entry is not None and entry.owner == owner else None

    def renew(self, source_id: str, order_id: str, *, owner: str, lease_seconds: float) -> bool:
        """Extend ``owner``'s claim; False when it no longer holds it (its lease expired and another took it)."""
        now = _now()
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    order_ledger.update()
                    .where(self._key(source_id, order_id), order_ledger.c.owner == owner)
                    .values(lease_until=now + timedelta(seconds=lease_seconds), updated_at=now)
                ).rowcount
            )

    def record(
        self,
        source_id: str,
        order_id: str,
        status: str,
        *,
        document_number: str | None = None,
        error: str | None = None,
        owner: str | None = None,
        release: bool = False,
        **extra: Any,
    ) -> bool:
        """Set an order's status (creating its row if this is the first thing known of it).

        With ``owner``, only while ``owner`` holds the claim (or nobody does); ``release`` gives the claim up.
        ``extra``: any of ``data_failures``, ``transient_failures``, ``failing_since``, ``next_attempt_at``,
        ``order_json``, ``attempts``.

        :returns: False when another runner holds the claim, so nothing was written.
        """
        if status not in STATUSES:
            raise ValueError(f"unknown ledger status {status!r}")
        unknown = set(extra) - set(_EXTRA)
        if unknown:
            raise ValueError(f"unknown ledger fields {sorted(unknown)}")
        now = _now()
        values: dict[str, Any] = {"status": status, "updated_at": now, "last_error": error, **extra}
        if document_number is not None:
            values["document_number"] = document_number
        if release:
            values.update(owner=None, lease_until=None)
        condition = self._key(source_id, order_id)
        if owner is not None:
            condition = sa.and_(condition, sa.or_(order_ledger.c.owner == owner, order_ledger.c.owner.is_(None)))
        with self.engine.begin() as conn:
            updated = conn.execute(order_ledger.update().where(condition).values(**values)).rowcount
            if updated:
                return True
            if conn.execute(sa.select(order_ledger.c.status).where(self._key(source_id, order_id))).first():
                log.warning("order %s of %s: the claim is held by another run; not recorded", order_id, source_id)
                return False
            conn.execute(
                order_ledger.insert().values(
                    source_id=source_id,
                    order_id=order_id,
                    created_at=now,
                    **{"attempts": 1 if status in ("failed", "gave_up") else 0, **values},
                )
            )
        return True

    def retry(self, source_id: str, order_id: str) -> LedgerEntry | None:
        """Bring a given-up (or failing) order back for the next run: status ``retry``, no failures counted, no
        pause. A given-up order is then raised from the order kept in the ledger, whatever the inbox lists.

        :returns: the entry before the change, or None if the ledger has no such order.
        """
        entry = self.entry(source_id, order_id)
        if entry is None:
            return None
        with self.engine.begin() as conn:
            conn.execute(
                order_ledger.update()
                .where(self._key(source_id, order_id))
                .values(
                    status="retry",
                    data_failures=0,
                    transient_failures=0,
                    next_attempt_at=None,
                    failing_since=None,
                    owner=None,
                    lease_until=None,
                    updated_at=_now(),
                )
            )
        return entry

    # -- shared API tokens ---------------------------------------------------------------------------
    def shared_token(self, name: str, secret: str) -> str | None:
        """The token every worker uses for the API user ``name``, or None (none yet, or not readable with
        ``secret``: the password changed)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(api_tokens.c.token).where(api_tokens.c.name == name)).first()
        return _decrypt(row.token, secret) if row is not None and row.token else None

    def relogin(self, name: str, secret: str, stale: str | None, login: Callable[[], str]) -> str:
        """Log in once for every worker: under a lock on the user's row, a token that replaced ``stale`` since
        is returned as it is; otherwise ``login()`` runs and its token is kept for the others.

        The lock is the row's update (SQLite: the database's write lock), so logins are serialised across
        processes and machines, and a worker whose token was refused picks up the one another just got.
        """
        now = _now()
        try:
            with self.engine.begin() as conn:
                conn.execute(api_tokens.insert().values(name=name, token=None, updated_at=now))
        except sa.exc.IntegrityError:
            pass  # the row exists
        with self.engine.begin() as conn:
            conn.execute(api_tokens.update().where(api_tokens.c.name == name).values(updated_at=now))  # the lock
            row = conn.execute(sa.select(api_tokens.c.token).where(api_tokens.c.name == name)).first()
            current = _decrypt(row.token, secret) if row is not None and row.token else None
            if current is not None and current != stale:
                return current
            token = login()
            conn.execute(api_tokens.update().where(api_tokens.c.name == name).values(token=_encrypt(token, secret)))
            return token

    # -- synced variants ------------------------------------------------------------------------------
    def record_synced(self, source_id: str, skus: Iterable[str], removed: Iterable[str] = ()) -> None:
        """Remember the SKUs Stock2Shop accepted for a source, and mark those sent as inactive or deleted removed.

        Args:
            source_id: the source.
            skus: SKUs the source holds in Stock2Shop now (held again if they were removed before).
            removed: SKUs the source removed (sent as inactive or deleted): kept, with when they were first
                removed, so an order for one is refused as discontinued, not as unknown. A SKU in both is held.
        """
        from stock2shop_sync.model.orders import sku_key

        now = _now()
        rows = {sku_key(s): s.strip() for s in skus if s and s.strip()}
        gone = {sku_key(s): s.strip() for s in removed if s and s.strip() and sku_key(s) not in rows}
        held = list(rows)
        with self.engine.begin() as conn:
            for start in range(0, len(held), _BATCH):
                conn.execute(
                    synced_variants.delete().where(
                        synced_variants.c.source_id == source_id,
                        synced_variants.c.sku_key.in_(held[start : start + _BATCH]),
                    )
                )
            if rows:
                conn.execute(
                    synced_variants.insert(),
                    [
                        {"source_id": source_id, "sku_key": k, "sku": v, "updated_at": now, "removed_at": None}
                        for k, v in rows.items()
                    ],
                )
            keys = list(gone)
            for start in range(0, len(keys), _BATCH):
                batch = keys[start : start + _BATCH]
                in_batch = sa.and_(synced_variants.c.source_id == source_id, synced_variants.c.sku_key.in_(batch))
                # A SKU removed earlier keeps the day it was first removed.
                conn.execute(
                    synced_variants.update()
                    .where(in_batch, synced_variants.c.removed_at.is_(None))
                    .values(removed_at=now, updated_at=now)
                )
                known = set(conn.execute(sa.select(synced_variants.c.sku_key).where(in_batch)).scalars())
                new = [
                    {"source_id": source_id, "sku_key": k, "sku": gone[k], "updated_at": now, "removed_at": now}
                    for k in batch
                    if k not in known
                ]
                if new:
                    conn.execute(synced_variants.insert(), new)

    def synced_skus(self, source_id: str) -> set[str]:
        """The ``sku_key``s a source holds in Stock2Shop (not those it removed since)."""
        with self.engine.connect() as conn:
            return set(
                conn.execute(
                    sa.select(synced_variants.c.sku_key).where(
                        synced_variants.c.source_id == source_id, synced_variants.c.removed_at.is_(None)
                    )
                ).scalars()
            )

    def removed_skus(self, source_id: str) -> dict[str, datetime]:
        """The ``sku_key``s a source synced and then removed from Stock2Shop, with when (UTC) it first removed each."""
        query = sa.select(synced_variants.c.sku_key, synced_variants.c.removed_at).where(
            synced_variants.c.source_id == source_id, synced_variants.c.removed_at.is_not(None)
        )
        with self.engine.connect() as conn:
            return {key: _aware(when) for key, when in conn.execute(query)}


def _fernet(secret: str) -> Any:
    import base64
    import hashlib

    from cryptography.fernet import Fernet

    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"s2s-api-token\0" + secret.encode()).digest()))


def _encrypt(token: str, secret: str) -> str:
    return _fernet(secret).encrypt(token.encode()).decode()


def _decrypt(stored: str, secret: str) -> str | None:
    from cryptography.fernet import InvalidToken

    try:
        return _fernet(secret).decrypt(stored.encode()).decode()
    except InvalidToken:
        return None


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        source_id=row.source_id,
        order_id=row.order_id,
        status=row.status,
        attempts=row.attempts,
        document_number=row.document_number,
        last_error=row.last_error,
        owner=row.owner,
        lease_until=_aware(row.lease_until),
        data_failures=row.data_failures or 0,
        transient_failures=row.transient_failures or 0,
        failing_since=_aware(row.failing_since),
        next_attempt_at=_aware(row.next_attempt_at),
        order_json=row.order_json,
        external_order_no=row.external_order_no,
    )
