"""Hook for Sage Accounting (formerly Sage One): South Africa's v2.0.0 API and the global v3.1 API.

**South Africa (``region: za``)**: ``{base}/api/2.0.0/{Service}/Get?apikey=..&CompanyId=..`` with HTTP Basic
auth (the Sage One user), OData ``$filter``/``$skip``/``$top`` (at most 100 per page), list answers
``{"TotalResults", "ReturnedResults", "Results"}``. Limits: 100 requests a minute and 5,000 a day per company;
the 101st request in a minute blocks the IP for an hour, so the client keeps below both (``RateLimiter``).

**Global (``region: global``)**: ``{base}/v3.1/{resource}`` with an OAuth2 bearer token from the refresh-token
grant. The refresh token rotates on every use, so the new one is stored back (``TokenStore``) *before* the
access token is used. Pages of up to 200 (``items_per_page``), following ``$next``; 429 answers are honoured
with ``Retry-After``.

Connection (default ``sage_accounting_default``): ``host`` overrides the API base URL; ``login``/``password``
are the Sage One user (za); extras: ``apikey``, ``company_id`` (za); ``client_id``, ``client_secret``,
``refresh_token`` (the first one), ``business_id``, ``token_url`` (global).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Protocol

from stock2shop_sync.hooks.rest_api import ApiError, RestApiHook, mask

log = logging.getLogger(__name__)

ZA_BASE = "https://accounting.sageone.co.za"
GLOBAL_BASE = "https://api.accounting.sage.com"
TOKEN_URL = "https://oauth.accounting.sage.com/token"  # noqa: S105 - a URL, not a secret


class SageAccountingError(ApiError):
    """A Sage Accounting request failed. ``retryable`` says whether trying later can help."""


class SageAuthError(SageAccountingError):
    """Sage refused the connection's credentials or refresh token: nothing to do with any one order's data."""


class TokenStore(Protocol):
    """Where the rotating v3.1 refresh token lives between runs."""

    def get(self) -> str | None: ...

    def set(self, value: str) -> None: ...


class VariableTokenStore:
    """The refresh token in an Airflow Variable (``s2s_<conn_id>_refresh_token``; Airflow masks values of
    variables whose name contains "token")."""

    def __init__(self, conn_id: str) -> None:
        self.key = f"s2s_{conn_id}_refresh_token"

    def get(self) -> str | None:
        from airflow.sdk import Variable

        return Variable.get(self.key, default=None)

    def set(self, value: str) -> None:
        from airflow.sdk import Variable

        Variable.set(self.key, value)


class MemoryTokenStore:
    """A token store in memory (tests, one-off scripts)."""

    def __init__(self, value: str | None = None) -> None:
        self.value = value
        self.writes = 0

    def get(self) -> str | None:
        return self.value

    def set(self, value: str) -> None:
        self.value = value
        self.writes += 1


def odata_datetime(moment: datetime) -> str:
    """``datetime'2026-11-22T10:00:00'`` as the v2.0.0 API's OData filter writes it (UTC, no offset)."""
    return f"datetime'{moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S')}'"


class SageAccountingHook(RestApiHook):
    """Read Sage Accounting lists page by page, within the API's limits.

    :param sage_accounting_conn_id: Airflow connection id.
    :param region: ``za`` (v2.0.0) or ``global`` (v3.1).
    :param requests_per_minute: client-side ceiling (default 95 for za, 100 for global).
    :param requests_per_day: client-side daily cap (default 4,900 for za: Sage allows 5,000).
    :param token_store: where the v3.1 refresh token is kept (default: an Airflow Variable).
    :param rate_window: seconds of the rate window (60; shorter only in tests).
    :param max_retries: attempts per request (default: the retry policy every HTTP hook shares).
    """

    conn_name_attr = "sage_accounting_conn_id"
    default_conn_name = "sage_accounting_default"
    conn_type = "http"
    hook_name = "Sage Accounting"
    error_class = SageAccountingError

    def __init__(
        self,
        sage_accounting_conn_id: str = default_conn_name,
        *,
        region: str = "za",
        requests_per_minute: int | None = None,
        requests_per_day: int | None = None,
        token_store: TokenStore | None = None,
        timeout: float = 60.0,
        max_retries: int | None = None,
        rate_window: float = 60.0,
    ) -> None:
        if region not in ("za", "global"):
            raise ValueError(f"region must be 'za' or 'global', not {region!r}")
        default_minute, default_day = (95, 4900) if region == "za" else (100, None)
        super().__init__(
            api_name="Sage Accounting",
            requests_per_minute=requests_per_minute or default_minute,
            requests_per_day=requests_per_day or default_day,
            timeout=timeout,
            max_retries=max_retries,
            rate_window=rate_window,
        )
        self.sage_accounting_conn_id = sage_accounting_conn_id
        self.region = region
        self.token_store = token_store or VariableTokenStore(sage_accounting_conn_id)
        self._access_token: str | None = None
        self._token_lock = threading.Lock()
        self.refreshes = 0

    # -- plumbing ---------------------------------------------------------------------------------
    def _settings(self) -> dict[str, Any]:
        conn = self.get_connection(self.sage_accounting_conn_id)
        extra = conn.extra_dejson
        base = (conn.host or (ZA_BASE if self.region == "za" else GLOBAL_BASE)).rstrip("/")
        for secret in (conn.password, extra.get("apikey"), extra.get("client_secret"), extra.get("refresh_token")):
            mask(secret)
        return {"base": base, "login": conn.login, "password": conn.password, **extra}

    # -- South Africa v2.0.0 ------------------------------------------------------------------------
    def list_za(
        self, service: str, *, since: datetime | None = None, odata_filter: str | None = None, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Every record of ``{service}/Get``, 100 per page, optionally ``Modified`` since ``since``."""
        settings = self._settings()
        if not settings.get("apikey") or not settings.get("company_id"):
            raise SageAccountingError(f"connection {self.sage_accounting_conn_id!r} needs apikey and company_id extras")
        top = min(page_size, 100)
        filters = [f for f in (odata_filter, f"Modified gt {odata_datetime(since)}" if since else None) if f]
        skip = 0
        while True:
            params: dict[str, Any] = {
                "apikey": settings["apikey"],
                "CompanyId": settings["company_id"],
                "$top": top,
                "$skip": skip,
            }
            if filters:
                params["$filter"] = " and ".join(filters)
            response = self._send(
                "GET",
                f"{settings['base']}/api/2.0.0/{service}/Get",
                params=params,
                auth=(settings["login"], settings["password"]),
            )
            if response.status_code == 401:
                raise SageAccountingError(
                    f"Sage Accounting refused the credentials of connection {self.sage_accounting_conn_id!r}",
                    status=401,
                )
            page = response.json()
            results = page.get("Results") or []
            yield from results
            skip += len(results)
            if not results or len(results) < top or skip >= int(page.get("TotalResults", skip)):
                return

    # -- global v3.1 --------------------------------------------------------------------------------
    def _refresh(self, settings: dict[str, Any], stale: str | None) -> str:
        with self._token_lock:
            if self._access_token and self._access_token != stale:
                return self._access_token
            refresh_token = self.token_store.get() or settings.get("refresh_token")
            if not refresh_token or not settings.get("client_id"):
                raise SageAccountingError(
                    f"connection {self.sage_accounting_conn_id!r} needs client_id, client_secret and a refresh_token"
                )
            response = self._send(
                "POST",
                settings.get("token_url") or TOKEN_URL,
                handled=(400, 401),
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": refresh_token,
                    "client_id": settings["client_id"],
                    "client_secret": settings.get("client_secret", ""),
                },
            )
            if response.status_code >= 400:
                raise SageAuthError(
                    f"Sage Accounting refused the refresh token of connection {self.sage_accounting_conn_id!r} "
                    f"(HTTP {response.status_code}); authorise the app again to get a new one",
                    status=response.status_code,
                )
            body = response.json()
            mask(body.get("access_token"))
            mask(body.get("refresh_token"))
            if body.get("refresh_token"):
                # Rotated: the old one is now dead, so keep the new one before anything else can fail.
                self.token_store.set(body["refresh_token"])
            self._access_token = body["access_token"]
            self.refreshes += 1
            return self._access_token

    def list_global(
        self,
        resource: str,
        *,
        since: datetime | None = None,
        page_size: int = 200,
        params: dict[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every record of ``/v3.1/{resource}``, up to 200 per page following ``$next``."""
        settings = self._settings()
        query: dict[str, Any] = {
            "items_per_page": min(page_size, 200),
            "page": 1,
            "attributes": "all",
            **(params or {}),
        }
        if since:
            query["updated_or_created_since"] = since.astimezone(UTC).isoformat().replace("+00:00", "Z")
        url: str | None = f"{settings['base']}/v3.1/{resource}"
        token = self._access_token or self._refresh(settings, None)
        while url:
            headers = {"Authorization": f"Bearer {token}"}
            if settings.get("business_id"):
                headers["X-Business"] = str(settings["business_id"])
            response = self._send("GET", url, params=query, headers=headers)
            if response.status_code == 401:  # the short-lived access token expired mid-run
                token = self._refresh(settings, token)
                continue
            page = response.json()
            yield from page.get("$items") or []
            following = page.get("$next")
            if not following:
                return
            url = following if following.startswith("http") else f"{settings['base']}/v3.1/{following.lstrip('/')}"
            query = {}  # $next carries the paging and filters

    # -- writing documents (orders) -------------------------------------------------------------------
    def save_za(self, service: str, document: dict[str, Any]) -> dict[str, Any]:
        """``POST {Service}/Save`` on the v2.0.0 API; a refused document raises with Sage's message (not
        retryable: the same document would be refused again)."""
        settings = self._settings()
        response = self._send(
            "POST",
            f"{settings['base']}/api/2.0.0/{service}/Save",
            params={"apikey": settings.get("apikey"), "CompanyId": settings.get("company_id")},
            json=document,
            auth=(settings["login"], settings["password"]),
            handled=(400, 401, 404, 422),
            idempotent=False,
        )
        if response.status_code == 401:
            raise SageAccountingError(
                f"Sage Accounting refused the credentials of connection {self.sage_accounting_conn_id!r}", status=401
            )
        if response.status_code >= 400:
            raise SageAccountingError(
                f"Sage Accounting refused the {service}: {_message(response)}", status=response.status_code
            )
        return response.json()

    def create_global(self, resource: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /v3.1/{resource}``; re-authorises once on an expired access token."""
        settings = self._settings()
        token = self._access_token or self._refresh(settings, None)
        for _ in range(2):
            headers = {"Authorization": f"Bearer {token}"}
            if settings.get("business_id"):
                headers["X-Business"] = str(settings["business_id"])
            response = self._send(
                "POST",
                f"{settings['base']}/v3.1/{resource}",
                json=body,
                headers=headers,
                handled=(400, 401, 404, 422),
                idempotent=False,
            )
            if response.status_code == 401:
                token = self._refresh(settings, token)
                continue
            if response.status_code >= 400:
                raise SageAccountingError(
                    f"Sage Accounting refused the {resource[:-1]}: {_message(response)}", status=response.status_code
                )
            return response.json()
        raise SageAccountingError("Sage Accounting kept refusing a fresh access token", status=401)


def _message(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, list):
        return "; ".join(str(e.get("$message") or e.get("$dataCode") or e) for e in body if isinstance(e, dict))
    if isinstance(body, dict):
        return str(body.get("Message") or body.get("message") or body)[:300]
    return str(body)[:300]
