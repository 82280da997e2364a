"""The interface every source connector implements."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stock2shop_sync.model.canonical import to_canonical

if TYPE_CHECKING:
    import pandas as pd

    from stock2shop_sync.config import Mapping, SourceConfig


class SourceConnector:
    """Reads one source's entities as raw frames; :meth:`extract` turns them into canonical frames.

    Subclasses implement :meth:`read_raw`. ``limit`` asks for at most that many rows (used by checks).
    """

    def __init__(self, config: SourceConfig, mapping: Mapping) -> None:
        self.config = config
        self.mapping = mapping

    def read_raw(self, entity: str, *, limit: int | None = None) -> pd.DataFrame:
        raise NotImplementedError

    def extract(self, entity: str, *, limit: int | None = None) -> pd.DataFrame:
        raw = self.read_raw(entity, limit=limit)
        return to_canonical(raw, self.mapping.entity(entity), source_id=self.config.source_id, entity=entity)
