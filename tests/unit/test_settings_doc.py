"""The README's settings tables come from the presets' own declarations and cannot drift."""

from __future__ import annotations

from pathlib import Path

import pytest

from stock2shop_sync.config import Mapping, load_mapping, mappings_dir
from stock2shop_sync.settings_doc import main, render, settings_rows

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_tables_are_what_the_presets_declare() -> None:
    assert main(["--check", str(ROOT / "README.md")]) == 0, "run: python -m stock2shop_sync.settings_doc"


def test_every_setting_of_every_shipped_preset_is_documented() -> None:
    for path in sorted(mappings_dir().glob("*.yaml")):
        rows = settings_rows(load_mapping(path.stem))
        assert all(what for _, _, what in rows), path.name


def test_a_changed_default_shows_in_the_table() -> None:
    table = render("<!-- settings-table sage_evolution -->\nold\n<!-- /settings-table -->\n")
    assert "| `title_rule` | `common_prefix` |" in table
    assert "| `inactive_items` | `delete` |" in table
    assert "\nold\n" not in table


def test_an_undocumented_setting_is_refused() -> None:
    mapping = Mapping.model_validate({"name": "shop", "connector": "sql", "settings": {"colour_field": "s.Colour"}})
    with pytest.raises(ValueError, match="settings without a note: colour_field"):
        settings_rows(mapping)
