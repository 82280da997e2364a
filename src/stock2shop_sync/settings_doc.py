"""The README's generated tables, so they cannot drift from the code: each preset's settings table (the preset's
``settings`` with their defaults, its ``setting_notes`` and the descriptions of ``SiteSettings``' typed fields), and
per entity the table of the fields a mapping may map (the canonical fields of ``config``, described by
:data:`~stock2shop_sync.model.canonical.FIELD_DOCS`, with the presets that map each one).

``python -m stock2shop_sync.settings_doc`` rewrites every ``<!-- settings-table <preset> -->`` and
``<!-- fields-table <entity> -->`` block of README.md; ``--check`` exits 1 when one differs (``make test`` checks
it).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from stock2shop_sync.config import (
    CUSTOMER_FIELDS,
    CUSTOMER_PATTERNS,
    PRODUCT_FIELDS,
    PRODUCT_PATTERNS,
    PROJECT_ROOT,
    Mapping,
    SiteSettings,
    load_mapping,
    mappings_dir,
)
from stock2shop_sync.model.canonical import FIELD_DOCS, FieldDoc

_BLOCK = re.compile(r"(<!-- settings-table (\w+) -->\n)(.*?)(<!-- /settings-table -->)", re.DOTALL)
_FIELDS_BLOCK = re.compile(r"(<!-- fields-table (\w+) -->\n)(.*?)(<!-- /fields-table -->)", re.DOTALL)
#: A pattern field's variable part, as the catalogue writes it (the ``<tier>`` of ``price_<tier>``).
_VARIABLE = re.compile(r"<\w+>")


def _default(value: Any) -> str:
    if value is None:
        return "`null`"
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
        return f"`{text}`" if len(text) <= 60 else f"`{text[:57]}...`"
    return f"`{value}`"


def settings_rows(mapping: Mapping) -> list[tuple[str, str, str]]:
    """(setting, default, what it does) for each of the preset's settings: its column settings in the order
    the preset declares them, then the typed ones. Raises ValueError naming any setting left undocumented."""
    declared = mapping.settings.model_dump()
    typed = list(SiteSettings.model_fields)
    columns = [name for name in declared if name not in typed]
    rows, missing = [], []
    for name in [*columns, *typed]:
        note = mapping.setting_notes.get(name, "").strip()
        field = SiteSettings.model_fields.get(name)
        described = (field.description or "") if field else ""
        # A typed setting's own description, then what it means in this preset.
        what = note or described
        if note and described:
            what = f"{described.rstrip('.')}. In this preset: {note.rstrip('.')}."
        if not what:
            missing.append(name)
        rows.append((name, _default(declared[name]), what.replace("|", "\\|")))
    if missing:
        raise ValueError(f"preset {mapping.name!r}: settings without a note: {', '.join(missing)}")
    return rows


def settings_table(preset: str) -> str:
    """The markdown table of a preset's settings."""
    lines = ["| setting | default | what it does |", "| --- | --- | --- |"]
    lines += [f"| `{name}` | {default} | {what} |" for name, default, what in settings_rows(load_mapping(preset))]
    return "\n".join(lines) + "\n"


def _example(doc: FieldDoc) -> str:
    """A name the field stands for: itself, or its pattern with the variable part filled (``price_<tier>``:
    ``price_x``; ``image<N>``: ``image1``)."""
    return _VARIABLE.sub(lambda m: "1" if m.group(0) == "<N>" else "x", doc.name)


#: What a mapping section's price-list and warehouse queries give, by the field they give it to.
_QUERIES = {"price_lists": "price-list query", "warehouses": "warehouse query"}


def _source(name: str) -> str:
    """A field or query a field falls back on, as the table names it."""
    return f"a {_QUERIES[name]}" if name in _QUERIES else f"`{name}`"


def _maps(section: Any, doc: FieldDoc, pattern: re.Pattern[str] | None) -> str:
    """How a preset's section gives the field (``pattern``: the names a pattern field stands for): ``column``
    (mapped), ``constant`` (under defaults), from a query (a price-list or warehouse query's pivoted columns), from
    a field it falls back on, or "" when it does not."""
    if section is None:
        return ""

    def named(names: Any) -> bool:
        return any(pattern.match(name) for name in names) if pattern else doc.name in names

    if named(section.fields):
        return "column"
    if named(section.defaults):
        return "constant"
    part = {"price_<tier>": "price_lists", "qty_<warehouse>": "warehouses"}.get(doc.name)
    for other in (part, *doc.fallback):
        if other in _QUERIES and getattr(section, other) is not None:
            return f"from its {_QUERIES[other]}"
        if other and (other in section.fields or other in section.defaults):
            return f"from `{other}`"
    return ""


def field_rows(entity: str, presets: list[Mapping]) -> list[tuple[str, str, str, str]]:
    """(field, what it is, required, presets that map it) for each field ``entity``'s mapping may map, in the
    catalogue's order. Raises ValueError naming a canonical field the catalogue does not describe, or an entry that
    is no canonical field (so a new field cannot reach the code without a line in the README)."""
    known, patterns = (
        (PRODUCT_FIELDS, PRODUCT_PATTERNS) if entity == "products" else (CUSTOMER_FIELDS, CUSTOMER_PATTERNS)
    )
    docs = FIELD_DOCS[entity]
    undocumented = sorted(known - {doc.name for doc in docs})
    undocumented += [p.pattern for p in patterns if not any("<" in d.name and p.match(_example(d)) for d in docs)]
    unknown = [d.name for d in docs if d.name not in known and not any(p.match(_example(d)) for p in patterns)]
    if undocumented or unknown:
        raise ValueError(
            f"{entity}: fields without a FieldDoc: {undocumented or 'none'}; FieldDocs of no field: {unknown or 'none'}"
        )
    rows = []
    for doc in docs:
        required = doc.required or "no"
        if doc.required and doc.fallback:
            required += " (else from " + " or ".join(_source(name) for name in doc.fallback) + ")"
        pattern = next((p for p in patterns if p.match(_example(doc))), None) if "<" in doc.name else None
        by = []
        for preset in presets:
            how = _maps(getattr(preset, entity), doc, pattern)
            if how:
                by.append(f"`{preset.name}`" + ("" if how == "column" else f" ({how})"))
        rows.append((doc.name, doc.what.replace("|", "\\|"), required, ", ".join(by)))
    return rows


def fields_table(entity: str) -> str:
    """The markdown table of the fields ``entity``'s mapping may map, with a note naming the presets that map every
    column named as a field."""
    presets = [load_mapping(path.stem) for path in sorted(mappings_dir().glob("*.yaml"))]
    lines = ["| field | what it is | required | mapped by default in |", "| --- | --- | --- | --- |"]
    lines += [f"| `{name}` | {what} | {required} | {by} |" for name, what, required, by in field_rows(entity, presets)]
    auto = [f"`{p.name}`" for p in presets if getattr(p, entity) is not None and getattr(p, entity).auto_fields]
    if auto:
        lines += ["", f"{', '.join(auto)} map every column named as one of these fields to it (`auto_fields`)."]
    return "\n".join(lines) + "\n"


def render(text: str) -> str:
    """``text`` with every settings-table and fields-table block regenerated."""
    text = _BLOCK.sub(lambda m: m.group(1) + settings_table(m.group(2)) + m.group(4), text)
    return _FIELDS_BLOCK.sub(lambda m: m.group(1) + fields_table(m.group(2)) + m.group(4), text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md's generated tables are out of date")
    parser.add_argument("path", nargs="?", default=str(PROJECT_ROOT / "README.md"))
    args = parser.parse_args(argv)
    path = Path(args.path)
    text = path.read_text(encoding="utf-8")
    rendered = render(text)
    if args.check:
        if rendered != text:
            print(f"{path}: the generated tables are out of date; run python -m stock2shop_sync.settings_doc")
            return 1
        return 0
    path.write_text(rendered, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
