"""The product upload under faults, over real HTTP against the sandbox with its fault injector (sandbox/faults.py):
every fault kind as a client sees it, 50,000 variants with 20 % of the responses faulted, a token that expires
mid-run under concurrent uploads, and an upload killed mid-way and resumed.

The source is a generated SQLite table read over ODBC by the product's own extract and validate steps; the upload
is :func:`stock2shop_sync.pipeline.upload` with :class:`Stock2ShopHook` (``requests``), nothing mocked.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests

from sandbox import faults as sandbox_faults
from sandbox.app import SandboxSettings
from sandbox.faults import FAULT_KINDS, PROCESSED_KINDS, FaultSettings
from sandbox.server import running_sandbox
from stock2shop_sync import pipeline, staging
from stock2shop_sync.config import load_source
from stock2shop_sync.demo.custom_database import DDL
from stock2shop_sync.fingerprints import FingerprintStore
from stock2shop_sync.hooks.stock2shop import Stock2ShopHook
from stock2shop_sync.model.payloads import payload_lines
from tests.conftest import ROOT, SANDBOX_PASSWORD, SANDBOX_USER, set_connection, write_source
from tests.integration.test_hook_http import item

SIZES = ("S", "M", "L", "XL", "XXL")


def generate_source(path: Path, variants: int, *, invalid: int = 0, ignored: int = 0) -> list[str]:
    """The Custom Database preset's tables in a SQLite file: ``variants`` valid variants in products of five sizes,
    plus ``invalid`` rows with a blank title (quarantined) and ``ignored`` rows set to Ignore. Returns the item
    codes of the valid variants."""
    conn = sqlite3.connect(path)
    try:
        for statement in DDL:
            conn.execute(statement)
        groups = (variants + len(SIZES) - 1) // len(SIZES)
        conn.executemany(
            "INSERT INTO product_groups VALUES (?, ?, ?, ?)",
            [(f"GRP-{g:06d}", "Size", None, None) for g in range(groups)],
        )
        ts = "2026-11-01 08:00:00"
        rows = [
            (n + 1, f"SKU-{n:07d}", f"GRP-{n // 5:06d}", f"Product {n // 5}", "Apparel", "Karoo", f"600{n:010d}",
             round(10 + (n % 997) * 1.5, 2), n % 50, "Active", 1, SIZES[n % 5], None, None, 200 + n % 300, ts)
            for n in range(variants)
        ]  # fmt: skip
        extra = [
            (variants + m + 1, f"BAD-{m:05d}", None, "" if m < invalid else f"Ignored {m}", "Apparel", "Karoo", None,
             9.99, 1, "Active" if m < invalid else "Ignore", 1, None, None, None, 100, ts)
            for m in range(invalid + ignored)
        ]  # fmt: skip
        conn.executemany("INSERT INTO products VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows + extra)
        conn.commit()
    finally:
        conn.close()
    return [row[1] for row in rows]


def start_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **settings: Any) -> Any:
    """A sandbox with the given settings, wired to ``stock2shop_default``; returns its context manager and URL."""
    context = running_sandbox(
        str(tmp_path / "sandbox.sqlite"),
        SandboxSettings(users={SANDBOX_USER: SANDBOX_PASSWORD}, sources={101: "Generated"}, **settings),
    )
    url = context.__enter__()
    set_connection(
        monkeypatch,
        "stock2shop_default",
        {"conn_type": "http", "host": url, "login": SANDBOX_USER, "password": SANDBOX_PASSWORD},
    )
    return context, url


@pytest.fixture
def generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sources_dir: Path) -> Any:
    """Factory: a generated SQLite source of N variants as config ``generated`` (staging and state in tmp_path)."""
    monkeypatch.setenv("S2S_STAGING_URL", f"file://{tmp_path / 'staging'}")

    def make(variants: int, **kwargs: int) -> tuple[Path, list[str]]:
        database = tmp_path / "generated.sqlite"
        codes = generate_source(database, variants, **kwargs)
        set_connection(monkeypatch, "s2s_generated", {"conn_type": "odbc", "schema": str(database)})
        config = write_source(sources_dir, "generated", conn_id="s2s_generated", driver="SQLite3", s2s_source_id=101)
        return config, codes

    return make


def extract_and_validate(config_path: Path, run_id: str) -> dict[str, Any]:
    config = load_source(config_path)
    extracted = pipeline.extract(config, "products", run_id)
    return pipeline.validate(config, "products", extracted, run_id)


def get(url: str, path: str, **params: Any) -> Any:
    response = requests.get(f"{url}{path}", params=params, timeout=60)
    response.raise_for_status()
    return response.json()


def login(url: str) -> str:
    body = {"system_user_auth": {"username": SANDBOX_USER, "password": SANDBOX_PASSWORD}}
    answer = requests.post(f"{url}/v1/users/authenticate", params={"format": "json"}, json=body, timeout=5)
    return answer.json()["system_user"]["token"]


# -- each fault as the client sees it ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_fault_kind_reaches_the_client_and_the_store_as_described(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context, url = start_sandbox(tmp_path, monkeypatch, rate_limit=0)
    try:
        token = login(url)
        sandbox_faults.configure(url, rate=1.0, kinds=[kind], hang=1.0, slow=0.4, retry_after=0.25)
        body = {"system_products": [item("F1"), item("F2")]}
        started = time.monotonic()
        try:
            answer = requests.post(f"{url}/v1/products/queue", params={"token": token}, json=body, timeout=0.7)
            outcome: Any = answer.status_code
        except requests.RequestException as exc:
            outcome = type(exc).__name__
            answer = None
        elapsed = time.monotonic() - started
        if kind == "timeout":
            time.sleep(max(1.3 - elapsed, 0))  # the late processing ends after the hang
        stored = sorted(get(url, "/sandbox/received"))
        report = sandbox_faults.report(url)
    finally:
        context.__exit__(None, None, None)
    expected = {
        "rate_limited": (429, []),
        "error_500": (500, []),
        "error_502": (502, []),
        "error_503": (503, []),
        "timeout": ("ReadTimeout", ["F1", "F2"]),  # stored, late
        "slow": (200, ["F1", "F2"]),
        "reset": ("ChunkedEncodingError", ["F1", "F2"]),
        "accepted_then_error": (503, ["F1", "F2"]),
    }
    assert (outcome, stored) == expected[kind]
    assert report["injected"] == {kind: 1}
    if kind == "rate_limited":
        assert answer is not None
        assert answer.headers["Retry-After"] == "0.25"
    if kind == "slow":
        assert elapsed >= 0.4


def outcome(url: str) -> int | str:
    try:
        return requests.get(url, timeout=5).status_code
    except requests.RequestException as exc:
        return type(exc).__name__


def test_faults_are_reproducible_from_the_seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    context, url = start_sandbox(tmp_path, monkeypatch, rate_limit=0)
    kinds = [k for k in FAULT_KINDS if k not in ("timeout", "slow")]
    try:
        runs = []
        for _ in range(2):
            sandbox_faults.configure(url, rate=0.5, kinds=kinds, seed=7)
            runs.append([outcome(f"{url}/v1/sources") for _ in range(40)])
            runs[-1].append(sandbox_faults.report(url)["injected"])
    finally:
        context.__exit__(None, None, None)
    assert runs[0] == runs[1]
    assert len(set(runs[0][:-1])) >= 4  # faults of several kinds, and 200s


# -- 50,000 variants, 20 % of the responses faulted -----------------------------------------------------------------
def test_fifty_thousand_variants_with_a_fifth_of_the_responses_faulted(
    generated: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = time.monotonic()
    config_path, codes = generated(50_000, invalid=40, ignored=60)
    validated = extract_and_validate(config_path, "faults-run")
    assert (validated["valid"], validated["invalid"], validated["ignored"]) == (50_000, 40, 60)
    prepared = time.monotonic() - started
    faults = FaultSettings(rate=0.2, seed=20261201, hang=2.0, slow=0.3, retry_after=0.1, token_expires_after=25)
    context, url = start_sandbox(tmp_path, monkeypatch, rate_limit=200, faults=faults)
    try:
        hook = Stock2ShopHook(timeout=1.5, backoff=0.05, max_retries=10)
        upload_started = time.monotonic()
        result = pipeline.upload(load_source(config_path), "products", validated, hook)
        upload_seconds = time.monotonic() - upload_started
        report = sandbox_faults.report(url)
        stats = get(url, "/sandbox/stats")
        sandbox_faults.configure(url)  # faults off for the read-back and the second run
        received = settled(url)  # a timed-out request is still processed, late
        batches = get(url, "/sandbox/batches")
        again = pipeline.upload(load_source(config_path), "products", validated, Stock2ShopHook())
    finally:
        context.__exit__(None, None, None)

    times = Counter(received.values())
    resent_batches = sum(1 for b in batches if b["received"] > 1)
    print(
        f"\n50k fault run: variants expected {len(codes)}, held {len(received)} (received once {times[1]}, "
        f"more than once {len(received) - times[1]}); sandbox requests {report['requests']}, faulted "
        f"{report['faulted']} ({report['faulted'] / report['requests']:.1%}), by kind {report['injected']}; "
        f"client retries {hook.retries}, logins {hook.logins} (re-logins {hook.logins - 1}; token expiries "
        f"{stats['token_expiries']}); batches stored {len(batches)} distinct, {resent_batches} received twice; "
        f"upload {upload_seconds:.1f}s, extract+validate {prepared:.1f}s, total {time.monotonic() - started:.1f}s"
    )
    assert result["uploaded"] == 50_000
    assert sorted(received) == sorted(codes)  # every valid variant, nothing quarantined or ignored, no extra
    assert stats["products"] == 50_000  # one row per variant: none duplicated
    assert len(batches) == 100
    assert all(b["items"] == 500 for b in batches)
    assert 0.15 <= report["faulted"] / report["requests"] <= 0.25
    assert set(report["injected"]) == {*FAULT_KINDS, "token_expired"}, report["injected"]
    # A batch is received twice only when its answer was late or spoiled after it was stored.
    processed_faults = sum(report["injected"][kind] for kind in PROCESSED_KINDS)
    assert 0 < resent_batches <= processed_faults
    # Re-logins: one per expiry, plus one per login the server made but the client never heard of (a spoiled
    # answer to /authenticate, whose new token invalidated the one in use).
    assert stats["token_expiries"] <= hook.logins - 1
    assert hook.logins - 1 <= stats["token_expiries"] + report["by_path"].get("/v1/users/authenticate", 0)
    assert again["uploaded"] == 0  # what was accepted is recorded: a second run has nothing to send
    store = FingerprintStore()
    assert store.load("generated", "products").height == 50_000
    assert store.recovered("generated", "products").height == 0


# -- a token that expires mid-run, with concurrent uploads ----------------------------------------------------------
def test_a_token_expiring_mid_run_is_renewed_once_per_expiry_by_concurrent_uploads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = FaultSettings(token_expires_after=7)
    context, url = start_sandbox(tmp_path, monkeypatch, rate_limit=0, faults=faults)
    try:
        hook = Stock2ShopHook(batch_size=50)
        lines = [orjson.dumps(item(f"TOK-{n:05d}")).decode() for n in range(3000)]
        result = hook.queue_lines("products", lines, concurrency=4)
        stats = get(url, "/sandbox/stats")
        refused = sum(1 for r in get(url, "/sandbox/requests") if r["status"] == 401)
    finally:
        context.__exit__(None, None, None)
    print(
        f"\ntoken expiry: {result.batches} batches at concurrency 4, token valid for 7 requests: expiries "
        f"{stats['token_expiries']}, requests refused 401 {refused}, logins {hook.logins} (server {stats['logins']})"
    )
    assert result.batches == 60
    assert stats["products"] == 3000
    assert stats["token_expiries"] >= 8
    assert refused > stats["token_expiries"]  # several requests in flight saw each expiry ...
    assert hook.logins == 1 + stats["token_expiries"]  # ... and shared one renewal
    assert stats["logins"] == hook.logins


def accepted_requests(url: str) -> int:
    return sum(1 for r in get(url, "/sandbox/requests") if r["path"] == "/v1/products/queue" and r["status"] == 200)


def settled(url: str) -> dict[str, int]:
    """What the sandbox received, once the requests the dead client left in flight are done (no change for 1 s)."""
    seen, since = get(url, "/sandbox/received", source_id=101), time.monotonic()
    while time.monotonic() - since < 1.0:
        time.sleep(0.2)
        now = get(url, "/sandbox/received", source_id=101)
        if now != seen:
            seen, since = now, time.monotonic()
    return seen


# -- killed mid-upload, resumed ---------------------------------------------------------------------------------------
def test_an_upload_killed_mid_way_resumes_without_resending_accepted_batches(
    generated: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_path, codes = generated(6_000)
    validated = extract_and_validate(config_path, "kill-run")
    validated_path = tmp_path / "validated.json"
    validated_path.write_text(json.dumps(validated, default=str))
    # Slow answers keep the four requests in flight when the process dies.
    faults = FaultSettings(rate=0.5, kinds=("slow",), slow=0.2, seed=3)
    context, url = start_sandbox(tmp_path, monkeypatch, rate_limit=0, faults=faults)
    try:
        killed = subprocess.run(
            [sys.executable, str(ROOT / "tests" / "upload_crash.py"), str(config_path), str(validated_path), "5"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert killed.returncode == 137, killed.stderr[-3000:]
        store = FingerprintStore()
        recorded = set(store.recovered("generated", "products").get_column("key").to_list())
        before = settled(url)
        in_flight = set(before) - recorded  # stored by the sandbox, but the client died before hearing of it
        queued_before = accepted_requests(url)

        resumed = pipeline.upload(load_source(config_path), "products", validated, Stock2ShopHook())

        after = get(url, "/sandbox/received", source_id=101)
        queued_after = accepted_requests(url)
        held = {r["source_variant_code"]: r["payload"] for r in get(url, "/sandbox/products", source_id=101)}
    finally:
        context.__exit__(None, None, None)
    sent_by_resume = {code for code, n in after.items() if n > before.get(code, 0)}
    print(
        f"\nkill/resume: variants expected {len(codes)}; killed after {len(recorded) // 500} batches recorded "
        f"({len(recorded)} variants); sandbox held {len(before)} at the kill ({len(in_flight)} in flight, unrecorded); "
        f"resumed run sent {resumed['uploaded']} in {queued_after - queued_before} batches; final held {len(after)}, "
        f"received once {sum(1 for n in after.values() if n == 1)}, twice {sum(1 for n in after.values() if n == 2)}"
    )
    assert len(recorded) == 5 * 500
    assert len(in_flight) <= 3 * 500  # at most the other requests in flight at concurrency 4
    assert sorted(after) == sorted(codes)  # converged: every variant, once
    assert not sent_by_resume & recorded  # nothing recorded as accepted was sent again
    assert all(after[code] == 1 for code in recorded)
    assert {code for code, n in after.items() if n == 2} == in_flight  # only the batches in flight at the kill
    assert resumed["uploaded"] == len(codes) - len(recorded)
    assert queued_after - queued_before == (resumed["uploaded"] + 499) // 500
    # The same end state as an uninterrupted run: each variant's payload as the product renders it.
    frame = staging.read_frame(validated["path"])
    lines = payload_lines("products", frame, 101)
    expected = {key: orjson.loads(line) for key, line in zip(lines["key"], lines["line"], strict=True)}
    assert held == expected
    assert store.load("generated", "products").height == len(codes)
    assert store.recovered("generated", "products").height == 0  # folded into the main file
