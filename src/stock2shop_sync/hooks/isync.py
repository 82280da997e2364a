"""Hook for iSync, the apparel ERP, over its authenticated HTTP API.

No public API document exists, so the endpoint, paging and filter names come from the mapping
(``include/mappings/isync.yaml``, entity ``options``); the defaults follow Stock2Shop's iSync settings
(``get_products_limit`` 20). The connection (default ``isync_default``) holds the service URL as ``host`` and
the iSync user as ``login``/``password`` (HTTP Basic).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from stock2shop_sync.hooks.rest_api import ApiError, RestApiHook, mask


class IsyncError(ApiError):
    """An iSync request failed."""


class IsyncPagingError(IsyncError):
    """The pages of an iSync list do not add up to the total it reports: the read is not complete."""


class IsyncHook(RestApiHook):
    """Page through an iSync list endpoint.

    :param isync_conn_id: Airflow connection id.
    :param requests_per_minute: client-side ceiling (None: none; iSync publishes no limit).
    """

    conn_name_attr = "isync_conn_id"
    default_conn_name = "isync_default"
    conn_type = "http"
    hook_name = "iSync"
    error_class = IsyncError

    def __init__(
        self, isync_conn_id: str = default_conn_name, *, requests_per_minute: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(api_name="iSync", requests_per_minute=requests_per_minute, **kwargs)
        self.isync_conn_id = isync_conn_id

    def list_pages(self, options: dict[str, Any], *, since: datetime | None = None) -> Iterator[dict[str, Any]]:
        """Every record of ``options['path']``, ``page_size`` at a time, optionally changed since ``since``.

        Options: ``path``, ``items_key`` (where the list is in the answer; none: the answer is the list),
        ``page_param``, ``page_size_param``, ``page_size``, ``first_page``, ``since_param``, ``since_format``,
        ``total_key`` (where the answer gives the count of all matching records; default ``TotalCount``, empty:
        none), ``short_page_retries`` (default 2).

        When the answer gives a total, the read goes on until that many records have arrived: a page shorter
        than the page size before the total is reached is asked for again (a proxy or the API cut it short), and
        is an error if it stays short, never the end of the list; the read ends once the total is reached. When
        the answer gives no total, nothing can tell a cut page from the last one: the first page shorter than the
        page size (or empty) ends the read.

        Raises:
            IsyncPagingError: the records read do not add up to the total the API reports (naming the pages and
                counts); retryable, as the next run usually reads a consistent list.
        """
        conn = self.get_connection(self.isync_conn_id)
        mask(conn.password)
        if not conn.host:
            raise IsyncError(f"connection {self.isync_conn_id!r} has no host (the iSync service URL)")
        url = conn.host.rstrip("/") + "/" + str(options.get("path", "products")).lstrip("/")
        size = int(options.get("page_size", 20))
        first = page = int(options.get("first_page", 1))
        total_key = options.get("total_key", "TotalCount")
        retries = int(options.get("short_page_retries", 2))
        params: dict[str, Any] = {}
        if since is not None and options.get("since_param"):
            params[options["since_param"]] = since.astimezone(UTC).strftime(
                options.get("since_format", "%Y-%m-%dT%H:%M:%SZ")
            )
        read = 0
        short_tries = 0
        while True:
            params.update({options.get("page_param", "page"): page, options.get("page_size_param", "pageSize"): size})
            response = self._send("GET", url, params=params, auth=(conn.login or "", conn.password or ""))
            if response.status_code == 401:
                raise IsyncError(f"iSync refused the credentials of connection {self.isync_conn_id!r}", status=401)
            body = response.json()
            items = body.get(options["items_key"], []) if options.get("items_key") else body
            if not isinstance(items, list):
                raise IsyncError(f"iSync's answer has no list under {options.get('items_key')!r}")
            total = body.get(total_key) if total_key and isinstance(body, dict) else None
            if total is None or isinstance(total, bool) or not isinstance(total, int):
                # No total: only a short page can end the read (a cut page is taken as the last one).
                yield from items
                if len(items) < size:
                    return
                page += 1
                continue
            pages = page - first + 1
            if len(items) < size and read + len(items) < total:
                if short_tries < retries:
                    short_tries += 1  # asked for again before any of it is used, so nothing arrives twice
                    continue
                raise IsyncPagingError(
                    f"iSync's list is incomplete: page {page} has {len(items)} records (page size {size}) after "
                    f"{read} records in {pages - 1} pages, but the API reports a total of {total}; "
                    f"asked {retries + 1} times",
                    retryable=True,
                )
            short_tries = 0
            read += len(items)
            if read > total:
                raise IsyncPagingError(
                    f"iSync's list does not add up: {read} records in {pages} pages, more than the total of {total} "
                    "the API reports (did records move between pages during the read?)",
                    retryable=True,
                )
            yield from items
            if read == total:
                return
            page += 1

    # -- orders ---------------------------------------------------------------------------------------
    def _url(self, path: str) -> tuple[str, tuple[str, str]]:
        conn = self.get_connection(self.isync_conn_id)
        mask(conn.password)
        if not conn.host:
            raise IsyncError(f"connection {self.isync_conn_id!r} has no host (the iSync service URL)")
        return conn.host.rstrip("/") + "/" + path.lstrip("/"), (conn.login or "", conn.password or "")

    def get_json(self, path: str, params: dict[str, Any]) -> Any:
        """GET ``path`` with ``params``; the decoded answer."""
        url, auth = self._url(path)
        response = self._send("GET", url, params=params, auth=auth)
        if response.status_code == 401:
            raise IsyncError(f"iSync refused the credentials of connection {self.isync_conn_id!r}", status=401)
        return response.json()

    def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` to ``path``; a refused document raises (not retryable) with iSync's message."""
        url, auth = self._url(path)
        response = self._send("POST", url, json=body, auth=auth, handled=(400, 401, 404, 409, 422), idempotent=False)
        if response.status_code == 401:
            raise IsyncError(f"iSync refused the credentials of connection {self.isync_conn_id!r}", status=401)
        if response.status_code >= 400:
            try:
                detail = response.json().get("Message") or response.text[:300]
            except ValueError:
                detail = response.text[:300]
            raise IsyncError(f"iSync refused the order: {detail}", status=response.status_code)
        return response.json()
