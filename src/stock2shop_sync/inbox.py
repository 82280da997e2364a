"""Order inboxes: where a source's pending Stock2Shop orders are read from and acknowledged.

* :class:`ApiOrderInbox`: Stock2Shop's order endpoints (paths in ``Stock2ShopHook.ENDPOINTS``; the contract we
  assume is in the README). Acknowledging sets the order's ``source_order_code`` for this source.
* :class:`FileOrderInbox`: a folder Stock2Shop drops rendered orders into (one JSON ``system_order`` per file),
  read through ``ObjectStoragePath`` (local, ``sftp://``, ``s3://``). Acknowledging moves the file to
  ``processed/`` with ``<name>.result.json`` beside it; an order that will not be retried goes to ``failed/``.
  Only complete files are read: temporary names are ignored and a file still changing waits (see its docstring).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stock2shop_sync.model.orders import order_id_of

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    from stock2shop_sync.config import SourceConfig
    from stock2shop_sync.hooks.stock2shop import Stock2ShopHook

log = logging.getLogger(__name__)


@dataclass
class InboxItem:
    """A pending order as the inbox holds it: its id (if readable), the received JSON and where it came from."""

    order_id: str | None
    raw: Any
    where: str  # "order 123" or the file name
    error: str | None = None  # the item could not even be read (e.g. not JSON)


class OrderInbox:
    """Lists pending orders and records each one's outcome. Both actions must be safe to repeat."""

    kind = ""

    def pending(self) -> list[InboxItem]:
        raise NotImplementedError

    def acknowledge(self, item: InboxItem, document_number: str, customer_code: str | None) -> None:
        raise NotImplementedError

    def reject(self, item: InboxItem, error: str, *, final: bool) -> None:
        """Report a failed attempt; ``final`` when it will not be retried."""
        raise NotImplementedError


class ApiOrderInbox(OrderInbox):
    """Orders pending for one Stock2Shop source, read and acknowledged over Stock2Shop's API."""

    kind = "api"

    def __init__(self, hook: Stock2ShopHook, s2s_source_id: int) -> None:
        self.hook = hook
        self.s2s_source_id = s2s_source_id

    def pending(self) -> list[InboxItem]:
        return [
            InboxItem(order_id=order_id_of(raw), raw=raw, where=f"order {order_id_of(raw) or '(no id)'}")
            for raw in self.hook.pending_orders(self.s2s_source_id)
        ]

    def acknowledge(self, item: InboxItem, document_number: str, customer_code: str | None) -> None:
        self.hook.acknowledge_order(item.order_id or "", self.s2s_source_id, document_number, customer_code)

    def reject(self, item: InboxItem, error: str, *, final: bool) -> None:
        if item.order_id:
            self.hook.report_order_error(item.order_id, self.s2s_source_id, error, final=final)


def folder_path(path: str, conn_id: str | None) -> ObjectStoragePath:
    from airflow.sdk import ObjectStoragePath

    from stock2shop_sync.connectors.flat_file import file_url

    return ObjectStoragePath(file_url(path), conn_id=conn_id)


#: Names an uploader (FTP/SFTP clients, rsync, editors) gives a file while it is still being written.
_TEMPORARY_SUFFIXES = frozenset({".tmp", ".temp", ".part", ".partial", ".filepart", ".crdownload"})


def is_temporary_name(name: str) -> bool:
    """Whether ``name`` marks a file still being written (``*.tmp``, ``*.part``, ``*.filepart``, ``.x``, ``~x``)."""
    lowered = name.lower()
    return lowered.startswith((".", "~")) or any(f".{part}" in _TEMPORARY_SUFFIXES for part in lowered.split(".")[1:])


def _signature(path: ObjectStoragePath) -> tuple[int, float]:
    """A file's size and modification time (0 where the store keeps none)."""
    stat = path.stat()
    return int(stat.st_size or 0), float(stat.st_mtime or 0)


class FileOrderInbox(OrderInbox):
    """JSON order files in a folder; ``processed/`` and ``failed/`` are created beside them.

    A file is taken only when it is complete, as an FTP/SFTP upload lands in the folder byte by byte:

    * temporary names (:func:`is_temporary_name`) are ignored: the uploader renames the file when it is done;
    * a file modified less than ``settle_seconds`` ago is watched until it is that old (at most ``settle_seconds``
      within the run): taken if its size and modification time did not change, else left for the next run.
      Ages use this machine's clock; the watch itself does not, so a store whose clock is ahead only costs the wait.
      A store that keeps no modification time gets no settle check: its uploader must use a temporary name;
    * a file that still does not parse is left in place while it was modified less than ``parse_grace_seconds``
      ago (an upload that stalled may be finished), and goes to ``failed/`` with its reason after that.
    """

    kind = "files"

    def __init__(
        self,
        folder: ObjectStoragePath,
        source_id: str = "",
        config_file: str = "",
        *,
        settle_seconds: float = 0,
        parse_grace_seconds: float = 0,
    ) -> None:
        self.folder = folder
        self.source_id = source_id
        self.config_file = config_file
        self.settle_seconds = settle_seconds
        self.parse_grace_seconds = parse_grace_seconds

    def _settled(self, files: list[ObjectStoragePath]) -> list[tuple[ObjectStoragePath, float]]:
        """The files whose size and modification time held still for ``settle_seconds``, with their mtime."""
        seen = {path.name: _signature(path) for path in files}
        now = time.time()
        young = {name for name, (_, mtime) in seen.items() if now - mtime < self.settle_seconds}
        if young:
            oldest_needed = max(self.settle_seconds - (now - seen[name][1]) for name in young)
            time.sleep(min(max(oldest_needed, 0.0), self.settle_seconds))
        settled = []
        for path in files:
            if path.name in young:
                now_seen = _signature(path)
                if now_seen != seen[path.name]:
                    log.info("%s is still being written (size or time changed); left for the next run", path.name)
                    continue
            settled.append((path, seen[path.name][1]))
        return settled

    def pending(self) -> list[InboxItem]:
        if not self.folder.exists():
            from stock2shop_sync.config import ConfigError

            # Retrying will not create it: a typo, or the drop was never set up. Fail fast, say where.
            raise ConfigError(
                file=self.config_file or self.source_id or "orders",
                key="orders.inbox.path",
                problem=f"the order inbox folder {self.folder} does not exist; create it or fix the path",
                source_id=self.source_id or None,
            )
        files = []
        for path in sorted(p for p in self.folder.iterdir() if p.is_file() and p.name.lower().endswith(".json")):
            if path.name.endswith(".result.json"):
                continue
            if is_temporary_name(path.name):
                log.debug("%s has a temporary name: not an order until it is renamed", path.name)
                continue
            files.append(path)
        items = []
        for path, mtime in self._settled(files):
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                age = time.time() - mtime
                if age < self.parse_grace_seconds:
                    log.warning(
                        "%s is not a JSON order yet (%s); modified %.0f s ago, so it stays for the next run (it goes "
                        "to failed/ once it is %d s old)",
                        path.name,
                        exc,
                        age,
                        self.parse_grace_seconds,
                    )
                    continue
                items.append(InboxItem(None, None, path.name, error=f"{path.name} is not a JSON order: {exc}"))
                continue
            items.append(InboxItem(order_id_of(raw), raw, path.name))
        return items

    def _finish(self, item: InboxItem, target: str, result: dict[str, Any]) -> None:
        folder = self.folder / target
        folder.mkdir(parents=True, exist_ok=True)
        source = self.folder / item.where
        result = {"file": item.where, "order_id": item.order_id, "at": datetime.now(UTC).isoformat(), **result}
        # The result first, then the move: a crash in between leaves the order in the inbox, and the next run
        # (finding the ERP document by its reference) writes the result again and moves it.
        (folder / f"{item.where}.result.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
        if not source.exists() and target == "processed" and (self.folder / "failed" / item.where).exists():
            source = self.folder / "failed" / item.where  # a given-up order raised after `retry-order`
        if source.exists():
            destination = folder / item.where
            if destination.exists():
                destination.unlink()
            source.rename(destination)

    def acknowledge(self, item: InboxItem, document_number: str, customer_code: str | None) -> None:
        self._finish(
            item,
            "processed",
            {"status": "raised", "source_order_code": document_number, "source_customer_code": customer_code},
        )

    def reject(self, item: InboxItem, error: str, *, final: bool) -> None:
        if final:
            self._finish(item, "failed", {"status": "failed", "error": error})
        else:
            log.warning("%s stays in the inbox for the next run: %s", item.where, error)


def inbox_for(config: SourceConfig) -> OrderInbox:
    """The inbox a source's config chooses."""
    settings = config.orders.inbox
    if settings.kind == "files":
        return FileOrderInbox(
            folder_path(settings.path or "", settings.conn_id),
            config.source_id,
            config.path,
            settle_seconds=settings.settle_seconds,
            parse_grace_seconds=settings.parse_grace_seconds,
        )
    from stock2shop_sync.hooks.stock2shop import Stock2ShopHook

    assert config.stock2shop is not None
    return ApiOrderInbox(Stock2ShopHook(config.stock2shop.conn_id), config.stock2shop.source_id)
