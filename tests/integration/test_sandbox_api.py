"""The sandbox behaves like Stock2Shop's documented API, over plain HTTP."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.conftest import SANDBOX_PASSWORD, SANDBOX_USER
from tests.integration.test_hook_http import item


def login(url: str, password: str = SANDBOX_PASSWORD) -> requests.Response:
    body = {"system_user_auth": {"username": SANDBOX_USER, "password": password}}
    return requests.post(f"{url}/v1/users/authenticate", params={"format": "json"}, json=body, timeout=5)


def queue(url: str, token: str | None, items: Any, kind: str = "products") -> requests.Response:
    params = {"token": token, "format": "json"} if token else {"format": "json"}
    return requests.post(f"{url}/v1/{kind}/queue", params=params, json={f"system_{kind}": items}, timeout=5)


def test_a_new_login_invalidates_the_old_token(sandbox: str) -> None:
    first = login(sandbox).json()["system_user"]["token"]
    second = login(sandbox).json()["system_user"]["token"]
    assert first != second
    assert queue(sandbox, first, [item("A")]).status_code == 401
    assert queue(sandbox, second, [item("A")]).status_code == 200
    assert requests.get(f"{sandbox}/v1/users/valid_token/{first}", timeout=5).status_code == 401


def test_wrong_password_and_missing_token(sandbox: str) -> None:
    assert login(sandbox, "nope").status_code == 401
    assert queue(sandbox, None, [item("A")]).status_code == 401


def test_sources_are_listed(sandbox: str) -> None:
    token = login(sandbox).json()["system_user"]["token"]
    sources = requests.get(f"{sandbox}/v1/sources", params={"token": token}, timeout=5).json()["system_sources"]
    assert [s["id"] for s in sources] == [101, 102, 103]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda i: i["product"].update(variants=[i["product"]["variants"]]),
            "item 0: product.variants must be one object (one variant per item), not a list",
        ),
        (lambda i: i["product"]["variants"].pop("sku"), "item 0: variants.sku is required"),
        (lambda i: i["source"].update(source_id="999"), "item 0: source_id 999 is not a source of this client"),
        (lambda i: i["product"].pop("title"), "item 0: product.title is required"),
        (lambda i: i["product"]["variants"].update(qty="7"), "item 0: variants.qty must be a number"),
    ],
)
def test_malformed_items_are_refused_with_the_item_named(sandbox: str, mutate: Any, message: str) -> None:
    token = login(sandbox).json()["system_user"]["token"]
    bad = item("A")
    mutate(bad)
    response = queue(sandbox, token, [bad])
    assert response.status_code == 400
    assert message in response.json()["errors"]
    assert requests.get(f"{sandbox}/sandbox/products", timeout=5).json() == []


def test_more_than_500_items_is_refused(sandbox: str) -> None:
    token = login(sandbox).json()["system_user"]["token"]
    assert queue(sandbox, token, [item(f"S{n}") for n in range(501)]).status_code == 413


def test_upsert_by_source_and_variant_code(sandbox: str) -> None:
    token = login(sandbox).json()["system_user"]["token"]
    queue(sandbox, token, [item("A"), item("B"), item("A", source_id=102)])
    queue(sandbox, token, [item("A", qty=5)])
    rows = requests.get(f"{sandbox}/sandbox/products", timeout=5).json()
    assert sorted((r["source_id"], r["sku"], r["times_received"]) for r in rows) == [
        (101, "A", 2),
        (101, "B", 1),
        (102, "A", 1),
    ]
    html = requests.get(f"{sandbox}/", timeout=5).text
    assert "Item B" in html
    assert requests.post(f"{sandbox}/sandbox/reset", timeout=5).status_code == 200
    assert requests.get(f"{sandbox}/sandbox/products", timeout=5).json() == []


def test_customer_with_blank_email_is_refused(sandbox: str) -> None:
    token = login(sandbox).json()["system_user"]["token"]
    customer = {
        "source": {"source_id": "101", "source_customer_code": "C1", "customer_active": "true"},
        "customer": {"first_name": "A", "last_name": "B", "email": " "},
    }
    response = queue(sandbox, token, [customer], kind="customers")
    assert response.status_code == 400
    assert "item 0: customer.email cannot be blank" in response.json()["errors"]
