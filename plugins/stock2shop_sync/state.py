"""The state store: what this project must remember between runs, in a database every worker reaches.

* ``s2s_order_ledger``: one row per (source, Stock2Shop order): attempts, status, the ERP document number and
  the last error. It is what makes order raising exactly-once: an attempt is recorded *before* the ERP is
  touched, so a run that died between raising and acknowledging is recognised and resolved by looking the
  document up in the ERP rather than raising it again.
* ``s2s_synced_variants``: the SKUs each source has had accepted by Stock2Shop (orders are routed by them).

Where: the Airflow connection ``s2s_state`` (any SQLAlchemy URL, e.g. PostgreSQL for a distributed
deployment), else ``S2S_STATE_URL``, else a SQLite file in ``$AIRFLOW_HOME``.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    from collections.abc import Iterable

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
)

synced_variants = sa.Table(
    "s2s_synced_variants",
    metadata,
    sa.Column("source_id", sa.String(64), primary_key=True),
    sa.Column("sku_key", sa.String(255), primary_key=True),
    sa.Column("sku", sa.String(255), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

#: Ledger statuses. ``raising``: an attempt started (the ERP may or may not hold the document);
#: ``raised``: the ERP holds it; ``acknowledged``: Stock2Shop (or the file drop) was told; ``failed``: the
#: last attempt failed and will be retried; ``gave_up``: ``max_attempts`` failures, not retried.
STATUSES = ("raising", "raised", "acknowledged", "failed", "gave_up")


@dataclass(frozen=True)
class LedgerEntry:
    """One order's row in the ledger."""

    source_id: str
    order_id: str
    status: str
    attempts: int
    document_number: str | None
    last_error: str | None


def _now() -> datetime:
    return datetime.now(UTC)


def default_url() -> str:
    """The state store's SQLAlchemy URL: the ``s2s_state`` connection, ``S2S_STATE_URL`` or a local file."""
    try:
        from airflow.sdk import BaseHook

        return _sqlalchemy_url(BaseHook.get_connection(STATE_CONN_ID).get_uri())
    except Exception:  # noqa: BLE001 - no such connection (or no Airflow context): fall back
        log.debug("no %s connection; using S2S_STATE_URL or the local file", STATE_CONN_ID)
    if url := os.environ.get("S2S_STATE_URL"):
        return url
    home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    return f"sqlite:///{home / 'stock2shop_state.sqlite'}"


def _sqlalchemy_url(uri: str) -> str:
    # Airflow writes postgres:// for conn_type postgres; SQLAlchemy wants postgresql://.
    return "postgresql" + uri[len("postgres") :] if uri.startswith("postgres://") else uri


_ENGINES: dict[str, sa.Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine(url: str) -> sa.Engine:
    with _ENGINES_LOCK:
        if url not in _ENGINES:
            kwargs: dict[str, Any] = {"future": True, "pool_pre_ping": True}
            if url.startswith("sqlite"):
                kwargs["connect_args"] = {"timeout": 30}
            engine = sa.create_engine(url, **kwargs)
            if url.startswith("sqlite"):

                @sa.event.listens_for(engine, "connect")
                def _wal(dbapi_conn: Any, _record: Any) -> None:
                    dbapi_conn.execute("PRAGMA journal_mode=WAL")

            metadata.create_all(engine)
            _ENGINES[url] = engine
        return _ENGINES[url]


class StateStore:
    """Read and write the ledger and the synced-variant list. Every write commits at once."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_url()
        self.engine = _engine(self.url)

    # -- order ledger ---------------------------------------------------------------------------------
    def entry(self, source_id: str, order_id: str) -> LedgerEntry | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(order_ledger).where(
                    order_ledger.c.source_id == source_id, order_ledger.c.order_id == order_id
                )
            ).first()
        return _entry(row) if row else None

    def entries(self, source_id: str, statuses: Iterable[str] | None = None) -> list[LedgerEntry]:
        query = sa.select(order_ledger).where(order_ledger.c.source_id == source_id)
        if statuses is not None:
            query = query.where(order_ledger.c.status.in_(list(statuses)))
        with self.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(query.order_by(order_ledger.c.order_id))]

    def begin_attempt(self, source_id: str, order_id: str, external_order_no: str | None) -> LedgerEntry:
        """Record that an attempt starts (status ``raising``, attempts + 1) before the ERP is touched.

        The row is unique on (source, order): two workers racing to insert it cannot both succeed.
        """
        now = _now()
        with self.engine.begin() as conn:
            updated = conn.execute(
                order_ledger.update()
                .where(order_ledger.c.source_id == source_id, order_ledger.c.order_id == order_id)
                .values(
                    status="raising",
                    attempts=order_ledger.c.attempts + 1,
                    external_order_no=external_order_no,
                    updated_at=now,
                )
            ).rowcount
            if not updated:
                conn.execute(
                    order_ledger.insert().values(
                        source_id=source_id,
                        order_id=order_id,
                        external_order_no=external_order_no,
                        status="raising",
                        attempts=1,
                        created_at=now,
                        updated_at=now,
                    )
                )
        entry = self.entry(source_id, order_id)
        assert entry is not None
        return entry

    def record(
        self,
        source_id: str,
        order_id: str,
        status: str,
        *,
        document_number: str | None = None,
        error: str | None = None,
    ) -> None:
        """Set an order's status (creating its row if this is the first thing known of it)."""
        if status not in STATUSES:
            raise ValueError(f"unknown ledger status {status!r}")
        now = _now()
        values: dict[str, Any] = {"status": status, "updated_at": now, "last_error": error}
        if document_number is not None:
            values["document_number"] = document_number
        with self.engine.begin() as conn:
            updated = conn.execute(
                order_ledger.update()
                .where(order_ledger.c.source_id == source_id, order_ledger.c.order_id == order_id)
                .values(**values)
            ).rowcount
            if not updated:
                conn.execute(
                    order_ledger.insert().values(
                        source_id=source_id,
                        order_id=order_id,
                        attempts=1 if status in ("failed", "gave_up") else 0,
                        created_at=now,
                        **values,
                    )
                )

    def reset_attempts(self, source_id: str, order_id: str) -> None:
        """Let a given-up order be tried again: status ``failed``, attempts 0 (its error is kept)."""
        with self.engine.begin() as conn:
            conn.execute(
                order_ledger.update()
                .where(order_ledger.c.source_id == source_id, order_ledger.c.order_id == order_id)
                .values(status="failed", attempts=0, updated_at=_now())
            )

    # -- synced variants ------------------------------------------------------------------------------
    def record_synced(self, source_id: str, skus: Iterable[str], removed: Iterable[str] = ()) -> None:
        """Remember the SKUs Stock2Shop accepted for a source; forget those sent as deleted."""
        from stock2shop_sync.model.orders import sku_key

        now = _now()
        rows = {sku_key(s): s.strip() for s in skus if s and s.strip()}
        gone = {sku_key(s) for s in removed if s and s.strip()}
        with self.engine.begin() as conn:
            keys = list(rows) + list(gone)
            for start in range(0, len(keys), 500):
                conn.execute(
                    synced_variants.delete().where(
                        synced_variants.c.source_id == source_id,
                        synced_variants.c.sku_key.in_(keys[start : start + 500]),
                    )
                )
            if rows:
                conn.execute(
                    synced_variants.insert(),
                    [{"source_id": source_id, "sku_key": k, "sku": v, "updated_at": now} for k, v in rows.items()],
                )

    def synced_skus(self, source_id: str) -> set[str]:
        """The ``sku_key``s a source holds in Stock2Shop."""
        with self.engine.connect() as conn:
            return set(
                conn.execute(
                    sa.select(synced_variants.c.sku_key).where(synced_variants.c.source_id == source_id)
                ).scalars()
            )


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        source_id=row.source_id,
        order_id=row.order_id,
        status=row.status,
        attempts=row.attempts,
        document_number=row.document_number,
        last_error=row.last_error,
    )
