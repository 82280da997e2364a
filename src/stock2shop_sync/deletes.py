"""How many items a run would delete in Stock2Shop, whatever causes it, and whether that needs a person.

A run deletes an item Stock2Shop holds for the source (it has a stored fingerprint, see
:mod:`stock2shop_sync.fingerprints`) in three ways, all counted together against one cap:

* ``gone``: a complete read no longer returned it (the upload sends it inactive);
* ``flagged``: the source's status field (``product_active``/``customer_active``) now says Delete, and the
  item was not already sent inactive (its line differs from the one Stock2Shop accepted last);
* ``linked``: as ``flagged``, but the Delete came through a linked source's merge (it owns ``product_active``).

An item Stock2Shop holds as inactive already and that stays so is not counted again: its line is unchanged.
One whose other fields change while it stays inactive is counted once more (the stored fingerprint cannot tell
an inactive line from an active one), which errs towards asking.

Above the cap (:func:`over_cap`) the DAG's ``approve_deletes_<entity>`` task asks a person, or fails the run
(``validation.on_delete_cap``); the texts it shows are made here, so tests read them without Airflow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from stock2shop_sync.model.validation import ValidationFailed

if TYPE_CHECKING:
    import polars as pl

    from stock2shop_sync.config import ValidationSettings

#: How many keys of each cause a summary shows.
SAMPLE_SIZE = 10

_ACTIVE = {"products": "product_active", "customers": "customer_active"}
_DELETE_WORDS = ("delete", "d")


class DeletesRefused(ValidationFailed):
    """The run would delete more than the cap allows and nobody approved it: nothing of the entity is sent."""


@dataclass(frozen=True)
class DeleteCount:
    """The deletes one run of one entity would send, by cause, against what Stock2Shop holds for the source."""

    entity: str
    #: items Stock2Shop holds for the source (the stored fingerprints)
    held: int
    #: held items a complete read no longer returned
    gone: int = 0
    #: held items the source's status field now flags Delete
    flagged: int = 0
    #: held items flagged Delete through a linked source's merge
    linked: int = 0
    #: up to :data:`SAMPLE_SIZE` keys (SKUs, customer codes) of each cause, by cause
    samples: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def total(self) -> int:
        return self.gone + self.flagged + self.linked

    @property
    def share(self) -> float:
        """The deletes as a share of what Stock2Shop holds (0 when it holds nothing)."""
        return self.total / self.held if self.held else 0.0

    def by_cause(self) -> dict[str, int]:
        return {"gone": self.gone, "flagged": self.flagged, "linked": self.linked}

    def as_dict(self) -> dict[str, Any]:
        """For XCom and the run report (JSON)."""
        return {**asdict(self), "samples": {cause: list(keys) for cause, keys in self.samples}, "total": self.total}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeleteCount:
        samples = tuple((cause, tuple(keys)) for cause, keys in (data.get("samples") or {}).items())
        return cls(
            entity=data["entity"],
            held=int(data["held"]),
            gone=int(data.get("gone", 0)),
            flagged=int(data.get("flagged", 0)),
            linked=int(data.get("linked", 0)),
            samples=samples,
        )


_CAUSES = {
    "gone": "no longer returned by a complete read",
    "flagged": "flagged Delete by the source's status field",
    "linked": "flagged Delete through a linked source's merge",
}


def tally(entity: str, held: int, keys: dict[str, list[str]]) -> DeleteCount:
    """A :class:`DeleteCount` from the keys of each cause (``gone``, ``flagged``, ``linked``)."""
    samples = tuple((cause, tuple(sorted(found)[:SAMPLE_SIZE])) for cause, found in keys.items() if found)
    return DeleteCount(
        entity=entity,
        held=held,
        gone=len(keys.get("gone", ())),
        flagged=len(keys.get("flagged", ())),
        linked=len(keys.get("linked", ())),
        samples=samples,
    )


def count_deletes(
    entity: str, validated: dict[str, Any], previous: pl.DataFrame, stock2shop_source_id: int
) -> DeleteCount:
    """Count what a run of ``entity`` would delete, from validate's output and the stored fingerprints.

    Args:
        entity: ``products`` or ``customers``.
        validated: validate's output: ``path`` (the valid rows), ``complete`` and ``input_path`` (every row read,
            when the read was complete) and, after a linked merge, ``primary_path`` (the primary's own rows).
        previous: the stored fingerprints (:meth:`FingerprintStore.load`): what Stock2Shop holds.
        stock2shop_source_id: the Stock2Shop source the lines are rendered for.

    Returns:
        The count by cause, with a sample of keys of each.
    """
    import polars as pl

    from stock2shop_sync import staging
    from stock2shop_sync.model.payloads import KEYS, payload_lines

    held = previous.height
    if not held:
        return DeleteCount(entity=entity, held=0)
    held_keys = previous.select("key", pl.col("fingerprint").alias("held"))
    keys: dict[str, list[str]] = {"gone": [], "flagged": [], "linked": []}
    if validated.get("complete") and validated.get("input_path"):
        present = staging.read_polars(validated["input_path"], columns=[KEYS[entity]]).to_series().cast(pl.String)
        keys["gone"] = previous.filter(~pl.col("key").is_in(present.implode())).get_column("key").to_list()
    valid = staging.read_polars(validated["path"])
    active = _ACTIVE[entity]
    if active in valid.columns and valid.height:
        # Only the inactive rows are rendered: the same lines (and fingerprints) the upload makes for them.
        inactive = valid.filter(~pl.col(active).cast(pl.Boolean).fill_null(True))
        lines = payload_lines(entity, inactive, stock2shop_source_id, canonical=True)
        changed = lines.join(held_keys, on="key", how="inner").filter(pl.col("held") != pl.col("fingerprint"))
        flagged = changed.get_column("key").to_list()
        by_link = _flagged_by_link(entity, validated.get("primary_path"), flagged)
        keys["flagged"] = [key for key in flagged if key not in by_link]
        keys["linked"] = sorted(by_link)
    return tally(entity, held, keys)


def _flagged_by_link(entity: str, primary_path: str | None, flagged: list[str]) -> set[str]:
    """The flagged keys whose primary row does not say Delete: the linked source's merge made them so."""
    if not flagged or not primary_path or entity != "products":
        return set()
    import polars as pl

    from stock2shop_sync import staging
    from stock2shop_sync.model.payloads import KEYS

    key, active = KEYS[entity], _ACTIVE[entity]
    primary = staging.read_polars(primary_path)
    if active not in primary.columns or key not in primary.columns:
        return set()
    own = primary.select(
        pl.col(key).cast(pl.String).alias("key"),
        pl.col(active).cast(pl.String).str.strip_chars().str.to_lowercase().is_in(_DELETE_WORDS).alias("own"),
    )
    said_delete = set(own.filter(pl.col("own")).get_column("key").to_list())
    return {k for k in flagged if k not in said_delete}


def over_cap(count: DeleteCount, settings: ValidationSettings) -> bool:
    """Whether the deletes pass the cap: at least ``delete_cap_min_items`` of them and more than
    ``max_delete_share`` of what Stock2Shop holds. Fewer than the minimum never need anyone, so a tiny
    catalogue can still drop a few items."""
    return count.total >= settings.delete_cap_min_items and count.total > settings.max_delete_share * count.held


def summary(count: DeleteCount) -> str:
    """One line: how many of what Stock2Shop holds, and by cause."""
    causes = ", ".join(f"{n} {_CAUSES[cause]}" for cause, n in count.by_cause().items() if n)
    held = f"{count.total} of the {count.held} {count.entity} Stock2Shop holds for the source ({count.share:.1%})"
    return f"{held}: {causes}" if causes else held


def cap_text(settings: ValidationSettings) -> str:
    """The cap in words, with the settings that set it."""
    return (
        f"the cap is {settings.max_delete_share:.0%} of what Stock2Shop holds (validation.max_delete_share), "
        f"applied from {settings.delete_cap_min_items} items (validation.delete_cap_min_items)"
    )


def approval_subject(source_id: str, count: DeleteCount) -> str:
    return f"Stock2Shop source {source_id}: delete {count.total} of {count.held} {count.entity}?"


def approval_body(source_id: str, count: DeleteCount, settings: ValidationSettings) -> str:
    """What the approver reads (Markdown): the count, the share, each cause with a sample, and what each answer
    does."""
    lines = [
        f"Source **{source_id}** would delete (send as inactive) **{count.total}** of the **{count.held}** "
        f"{count.entity} Stock2Shop holds for it (**{count.share:.1%}**); {cap_text(settings)}.",
        "",
    ]
    samples = dict(count.samples)
    for cause, n in count.by_cause().items():
        if n:
            shown = ", ".join(f"`{key}`" for key in samples.get(cause, ()))
            more = f" and {n - len(samples.get(cause, ()))} more" if n > len(samples.get(cause, ())) else ""
            lines.append(f"* {n} {_CAUSES[cause]}: {shown}{more}")
    lines += [
        "",
        f"**Approve**: the upload sends these deletes. **Reject**: nothing of {count.entity} is uploaded and the "
        "run fails. Without an answer within "
        f"{settings.delete_approval_hours:g} hours the run fails as rejected.",
    ]
    return "\n".join(lines)


def refusal(source_id: str, count: DeleteCount, settings: ValidationSettings, why: str) -> str:
    """The error a run fails with when deletes above the cap are not approved (``why``: by whom, or how)."""
    return (
        f"source {source_id!r}: deletes of {count.entity} {why}: {summary(count)}, more than the cap "
        f"({cap_text(settings)}); nothing of {count.entity} was uploaded. If the source really removed them, "
        "approve them in the run's approve_deletes task (or raise the cap for one run); otherwise check the "
        "source's query and data."
    )


__all__ = [
    "DeleteCount",
    "DeletesRefused",
    "approval_body",
    "approval_subject",
    "cap_text",
    "count_deletes",
    "over_cap",
    "refusal",
    "summary",
    "tally",
]
