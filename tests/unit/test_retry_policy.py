"""The retry policy every HTTP hook shares (stock2shop_sync/hooks/retry.py): ``Retry-After`` parsing (seconds, HTTP
dates, past dates, garbage), the cap on a server's wait, jitter bounds and reproducibility, and the request loop's
rules for creates, with no network."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
from urllib3.exceptions import NewConnectionError

from stock2shop_sync.hooks.retry import (
    DEFAULT_POLICY,
    ApiError,
    RetryPolicy,
    call_with_retries,
    make_policy,
    parse_http_date,
    parse_retry_after,
    status_error,
    transport_error,
)

NOW = datetime(2026, 10, 21, 7, 28, 0, tzinfo=UTC)
log = logging.getLogger("tests.retry")


def seeded(seed: int) -> random.Random:
    """A reproducible random source for the jitter."""
    return random.Random(seed)  # noqa: S311 - jitter, not crypto


# -- Retry-After ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("0.25", 0.25),  # not RFC 9110's delay-seconds, but what some servers (and the sandbox) send
        (" 7 ", 7.0),
        ("Wed, 21 Oct 2026 07:28:30 GMT", 30.0),  # IMF-fixdate
        ("Wednesday, 21-Oct-26 07:29:00 GMT", 60.0),  # RFC 850, obsolete but still to be accepted
        ("Wed Oct 21 07:28:05 2026", 5.0),  # asctime, no zone: GMT
        ("Wed, 21 Oct 2026 09:28:30 +0200", 30.0),  # a zone other than GMT (not HTTP, but unambiguous)
        ("Wed, 21 Oct 2026 07:27:00 GMT", 0.0),  # already past: no wait
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
    ],
)
def test_retry_after_in_seconds_or_as_an_http_date(header: str, seconds: float) -> None:
    assert parse_retry_after(header, now=NOW) == pytest.approx(seconds)


@pytest.mark.parametrize("header", [None, "", "  ", "soon", "-5", "+5", "1e3", "inf", "nan", "5 s", "Wed, 99 Foo"])
def test_a_retry_after_that_says_nothing_usable_is_none(header: str | None) -> None:
    assert parse_retry_after(header, now=NOW) is None


def test_an_http_date_is_counted_from_this_machines_clock_without_a_server_date() -> None:
    ahead = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    assert 85 <= (parse_retry_after(ahead) or 0) <= 90


def test_parse_http_date() -> None:
    assert parse_http_date("Wed, 21 Oct 2026 07:28:00 GMT") == NOW
    assert parse_http_date("Wed Oct 21 07:28:00 2026") == NOW  # zoneless forms are GMT
    assert parse_http_date("yesterday") is None
    assert parse_http_date(None) is None


def answer(status: int, headers: dict[str, str], body: bytes = b'{"errors": "slow down"}') -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)
    response._content = body
    return response


def test_an_answers_retry_after_date_is_read_against_its_own_date_header() -> None:
    # The server's clock is an hour behind ours: its date and its Retry-After agree on a 20-second wait.
    server_now = datetime.now(UTC) - timedelta(hours=1)
    error = status_error(
        answer(
            429,
            {
                "Date": format_datetime(server_now, usegmt=True),
                "Retry-After": format_datetime(server_now + timedelta(seconds=20), usegmt=True),
            },
        ),
        "Example API",
    )
    assert error.retry_after == pytest.approx(20.0, abs=1.0)
    assert error.retry_after_header is not None
    assert (error.status, error.retryable, error.maybe_stored) == (429, True, False)
    assert str(error) == "Example API answered HTTP 429: slow down"


def test_error_answers_are_classified() -> None:
    unavailable = status_error(answer(503, {"Retry-After": "3"}), "Example API")
    assert (unavailable.retryable, unavailable.maybe_stored, unavailable.in_flight, unavailable.retry_after) == (
        True, True, False, 3.0,
    )  # fmt: skip
    gateway = status_error(answer(504, {}), "Example API")
    assert (gateway.maybe_stored, gateway.in_flight, gateway.retry_after) == (True, True, None)
    refused = status_error(answer(400, {}, b'{"Message": "bad date"}'), "Example API")
    assert (refused.retryable, str(refused)) == (False, "Example API answered HTTP 400: bad date")
    leaky = status_error(answer(502, {}, b"<html>GET /x?token=tok-9-secret</html>"), "Example API")
    assert "tok-9-secret" not in str(leaky)


def test_a_connection_refused_was_never_sent_and_a_read_timeout_may_still_run() -> None:
    refused = requests.ConnectionError(NewConnectionError(None, "Connection refused"))  # type: ignore[arg-type]
    error = transport_error(refused, "Example API")
    assert (error.retryable, error.maybe_stored, error.in_flight) == (True, False, False)
    late = transport_error(requests.ReadTimeout("read timed out"), "Example API")
    assert (late.retryable, late.maybe_stored, late.in_flight) == (True, True, True)
    assert "may have been carried out" in str(late)
    reset = transport_error(requests.ConnectionError("Connection reset by peer"), "Example API")
    assert (reset.maybe_stored, reset.in_flight) == (True, False)


# -- waits -----------------------------------------------------------------------------------------------------------
def test_a_retry_after_is_honoured_as_given_up_to_the_cap() -> None:
    policy = RetryPolicy(max_wait=60.0, rng=seeded(1))
    assert policy.delay(ApiError("x", status=429, retryable=True, retry_after=12.5), 1) == 12.5
    assert policy.delay(ApiError("x", status=429, retryable=True, retry_after=0.0), 3) == 0.0  # a past date
    assert policy.delay(ApiError("x", status=503, retryable=True, retry_after=60.0), 1) == 60.0


def test_a_longer_retry_after_than_the_cap_fails_retryable_saying_how_long_was_asked() -> None:
    class ExampleError(ApiError):
        pass

    asked = ExampleError("Example API answered HTTP 429: slow down", status=429, retryable=True, retry_after=3600.0)
    asked.retry_after_header = "Wed, 21 Oct 2026 08:28:00 GMT"
    with pytest.raises(ExampleError) as failed:
        RetryPolicy(max_wait=120.0).delay(asked, 1)
    assert failed.value.retryable is True
    assert failed.value.status == 429
    assert failed.value.__cause__ is asked
    assert "asked to wait 3600 s" in str(failed.value)
    assert "Retry-After: Wed, 21 Oct 2026 08:28:00 GMT" in str(failed.value)
    assert "longer than the 120 s" in str(failed.value)


@pytest.mark.parametrize("retry", range(1, 12))
def test_full_jitter_stays_between_zero_and_the_capped_exponential(retry: int) -> None:
    policy = RetryPolicy(backoff=0.5, max_backoff=30.0, jitter="full", rng=seeded(retry))
    ceiling = min(30.0, 0.5 * 2 ** (retry - 1))
    waits = [policy.backoff_delay(retry) for _ in range(500)]
    assert all(0.0 <= w <= ceiling for w in waits)
    assert max(waits) > 0.8 * ceiling  # spread over the range, not stuck at one end
    assert min(waits) < 0.2 * ceiling


def test_decorrelated_jitter_stays_between_the_base_and_three_times_the_last_wait() -> None:
    policy = RetryPolicy(backoff=0.5, max_backoff=30.0, jitter="decorrelated", rng=seeded(3))
    previous = None
    for retry in range(1, 40):
        wait = policy.backoff_delay(retry, previous)
        assert 0.5 <= wait <= min(30.0, 3 * (previous or 0.5))
        previous = wait
    assert previous is not None


def test_jitter_is_reproducible_from_a_seeded_random_source() -> None:
    first, second = RetryPolicy(rng=seeded(7)), RetryPolicy(rng=seeded(7))
    assert [first.backoff_delay(n) for n in range(1, 9)] == [second.backoff_delay(n) for n in range(1, 9)]
    other = RetryPolicy(rng=seeded(8))
    assert [first.backoff_delay(n) for n in range(1, 9)] != [other.backoff_delay(n) for n in range(1, 9)]


def test_a_huge_retry_number_does_not_overflow() -> None:
    assert 0 <= RetryPolicy(rng=seeded(0)).backoff_delay(10_000) <= 30.0


@pytest.mark.parametrize(
    "settings",
    [{"attempts": 0}, {"backoff": -1.0}, {"backoff": 5.0, "max_backoff": 1.0}, {"max_wait": -1.0}, {"jitter": "equal"}],
)
def test_a_policy_that_makes_no_sense_is_refused(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must"):
        RetryPolicy(**settings)  # type: ignore[arg-type]


def test_a_hooks_max_retries_and_backoff_adjust_the_shared_policy() -> None:
    assert make_policy() is DEFAULT_POLICY
    adjusted = make_policy(max_retries=3, backoff=60.0)
    assert (adjusted.attempts, adjusted.backoff, adjusted.max_backoff) == (3, 60.0, 60.0)
    assert (adjusted.max_wait, adjusted.jitter) == (DEFAULT_POLICY.max_wait, DEFAULT_POLICY.jitter)
    assert adjusted.rng is DEFAULT_POLICY.rng


# -- the request loop ------------------------------------------------------------------------------------------------
class Script:
    """An attempt function that raises the scripted errors in turn, then answers."""

    def __init__(self, *errors: ApiError) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> requests.Response:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return answer(200, {}, b"{}")


def run(script: Script, *, idempotent: bool = True, attempts: int = 4) -> list[float]:
    slept: list[float] = []
    policy = RetryPolicy(attempts=attempts, backoff=0.5, rng=seeded(5))
    response = call_with_retries(
        script, policy=policy, api="Example API", logger=log, idempotent=idempotent, sleep=slept.append
    )
    assert response.status_code == 200
    return slept


def rate_limited(after: float | None = None) -> ApiError:
    error = ApiError("Example API answered HTTP 429: slow down", status=429, retryable=True, retry_after=after)
    error.retry_after_header = None if after is None else f"{after:g}"
    return error


def test_waits_follow_retry_after_and_otherwise_the_backoff(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="tests.retry")
    slept = run(Script(rate_limited(2.0), ApiError("HTTP 500", status=500, retryable=True), rate_limited()))
    assert slept[0] == 2.0
    assert 0 <= slept[1] <= 1.0
    assert 0 <= slept[2] <= 2.0
    assert [r.getMessage() for r in caplog.records] == [
        "Example API: rate limited (HTTP 429); waiting 2.0 s (Retry-After: 2) before retry 1/3",
        f"HTTP 500; waiting {slept[1]:.1f} s (backoff) before retry 2/3",
        f"Example API: rate limited (HTTP 429); waiting {slept[2]:.1f} s (backoff) before retry 3/3",
    ]


def test_attempts_are_bounded() -> None:
    script = Script(*[ApiError("HTTP 503", status=503, retryable=True) for _ in range(10)])
    with pytest.raises(ApiError, match="HTTP 503"):
        run(script, attempts=3)
    assert script.calls == 3


def test_a_failure_retrying_cannot_fix_is_raised_at_once() -> None:
    script = Script(ApiError("HTTP 422", status=422))
    with pytest.raises(ApiError, match="HTTP 422"):
        run(script)
    assert script.calls == 1


def test_a_create_that_may_have_been_stored_is_not_sent_again() -> None:
    for maybe in (
        ApiError("HTTP 503", status=503, retryable=True, maybe_stored=True),
        ApiError("ReadTimeout", retryable=True, maybe_stored=True, in_flight=True),
        ApiError("ConnectionError (reset)", retryable=True, maybe_stored=True),
    ):
        script = Script(maybe)
        with pytest.raises(ApiError) as failed:
            run(script, idempotent=False)
        assert failed.value is maybe
        assert script.calls == 1


def test_a_create_refused_before_it_was_stored_is_sent_again() -> None:
    unsent = transport_error(
        requests.ConnectionError(NewConnectionError(None, "Connection refused")),  # type: ignore[arg-type]
        "Example API",
    )
    script = Script(rate_limited(0.5), unsent)
    assert run(script, idempotent=False)[0] == 0.5
    assert script.calls == 3


def test_an_idempotent_request_is_sent_again_whatever_the_failure() -> None:
    script = Script(
        ApiError("HTTP 503", status=503, retryable=True, maybe_stored=True),
        ApiError("ReadTimeout", retryable=True, maybe_stored=True, in_flight=True),
    )
    run(script)
    assert script.calls == 3


def test_a_retry_after_past_the_cap_ends_the_loop_without_waiting() -> None:
    script = Script(rate_limited(600.0))
    slept: list[float] = []
    with pytest.raises(ApiError, match="asked to wait 600 s"):
        call_with_retries(script, policy=RetryPolicy(max_wait=60.0), api="Example API", logger=log, sleep=slept.append)
    assert (script.calls, slept) == (1, [])
