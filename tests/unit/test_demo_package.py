"""The demo package's ``seed(preset, conn)`` stays a function whichever seeder modules were imported first."""

from __future__ import annotations

import importlib
import inspect

import stock2shop_sync.demo as demo


def test_seed_is_not_shadowed_by_a_seeder_module() -> None:
    # A submodule named like a package attribute replaces that attribute once imported (test order decided
    # whether ``from stock2shop_sync.demo import seed`` gave the function or a module).
    for module in (*demo.SEEDERS.values(), "stock2shop_sync.demo.orders"):
        importlib.import_module(module)
    assert inspect.isfunction(demo.seed)
    assert list(inspect.signature(demo.seed).parameters) == ["preset", "conn"]
