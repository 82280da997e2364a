"""The README's settings tables, generated from each preset's own declaration so they cannot drift: the
preset's ``settings`` (their defaults), its ``setting_notes`` and the descriptions of ``SiteSettings``' typed
fields.

``python -m stock2shop_sync.settings_doc`` rewrites every ``<!-- settings-table <preset> -->`` block of
README.md; ``--check`` exits 1 when one differs (``make test`` checks it).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from stock2shop_sync.config import PROJECT_ROOT, Mapping, SiteSettings, load_mapping

_BLOCK = re.compile(r"(<!-- settings-table (\w+) -->\n)(.*?)(<!-- /settings-table -->)", re.DOTALL)


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


def render(text: str) -> str:
    """``text`` with every settings-table block regenerated."""
    return _BLOCK.sub(lambda m: m.group(1) + settings_table(m.group(2)) + m.group(4), text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md's tables are out of date")
    parser.add_argument("path", nargs="?", default=str(PROJECT_ROOT / "README.md"))
    args = parser.parse_args(argv)
    path = Path(args.path)
    text = path.read_text(encoding="utf-8")
    rendered = render(text)
    if args.check:
        if rendered != text:
            print(f"{path}: the settings tables are out of date; run python -m stock2shop_sync.settings_doc")
            return 1
        return 0
    path.write_text(rendered, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
