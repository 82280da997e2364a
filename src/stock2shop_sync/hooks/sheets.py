"""Hook for Google Sheets through ``gspread`` with a service account.

The connection (default ``google_sheets_default``) keeps the service account's JSON key in its extra as
``keyfile_dict`` (a JSON object or string; the Google provider's ``extra__google_cloud_platform__keyfile_dict``
is read too). An optional ``api_base_url`` in the extra sends the Sheets API calls to another base URL (a
local stand-in, a proxy); the OAuth token endpoint is the key's own ``token_uri``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    import gspread

SHEETS_API = "https://sheets.googleapis.com"
SCOPES = ["https://www.googleapis.com/auth/spreadsheets.readonly", "https://www.googleapis.com/auth/drive.readonly"]


class SheetsError(Exception):
    """A spreadsheet or worksheet could not be read."""


def _rebased_adapter(base_url: str) -> Any:
    from requests.adapters import HTTPAdapter

    class RebasedAdapter(HTTPAdapter):
        """Send requests for the Sheets API host to ``base_url`` instead."""

        def send(self, request: Any, **kwargs: Any) -> Any:
            request.url = base_url.rstrip("/") + request.url[len(SHEETS_API) :]
            return super().send(request, **kwargs)

    return RebasedAdapter()


def _credentials_for_other_endpoint() -> Any:
    from google.oauth2.service_account import Credentials

    class OtherEndpointCredentials(Credentials):
        """Service-account credentials for a Sheets API at ``api_base_url``: no Regional Access Boundary lookup,
        which google-auth would otherwise send to iamcredentials.googleapis.com after each token refresh."""

        def _is_regional_access_boundary_lookup_required(self) -> bool:
            return False

    return OtherEndpointCredentials


class GoogleSheetsHook(BaseHook):
    """Read Google Sheets with gspread, authenticated as the connection's service account.

    :param google_sheets_conn_id: Airflow connection id holding the service-account key.
    :param timeout: seconds per request.
    """

    conn_name_attr = "google_sheets_conn_id"
    default_conn_name = "google_sheets_default"
    conn_type = "google_sheets"
    hook_name = "Google Sheets (service account)"

    def __init__(self, google_sheets_conn_id: str = default_conn_name, *, timeout: float = 60.0) -> None:
        super().__init__()
        self.google_sheets_conn_id = google_sheets_conn_id
        self.timeout = timeout
        self._client: gspread.Client | None = None

    def _key(self) -> tuple[dict[str, Any], str | None]:
        conn = self.get_connection(self.google_sheets_conn_id)
        extra = conn.extra_dejson
        key = extra.get("keyfile_dict") or extra.get("extra__google_cloud_platform__keyfile_dict")
        if not key:
            raise SheetsError(
                f"connection {self.google_sheets_conn_id!r} has no keyfile_dict (the service-account JSON key)"
            )
        if isinstance(key, str):
            try:
                key = json.loads(key)
            except ValueError:
                raise SheetsError(f"connection {self.google_sheets_conn_id!r}: keyfile_dict is not JSON") from None
        from stock2shop_sync.redact import mask

        private_key = str(key.get("private_key") or "")
        # the key whole, and line by line (a log may show it JSON-escaped, its newlines as \n)
        lines = [line for line in private_key.splitlines() if line.strip() and "PRIVATE KEY" not in line]
        mask(private_key, *lines, key.get("private_key_id"))
        return key, extra.get("api_base_url")

    def get_client(self) -> gspread.Client:
        """A gspread client authorised as the service account (created once per hook)."""
        if self._client is None:
            import gspread
            from google.auth.transport.requests import AuthorizedSession
            from google.oauth2.service_account import Credentials

            key, base_url = self._key()
            factory = _credentials_for_other_endpoint() if base_url else Credentials
            try:
                credentials = factory.from_service_account_info(key, scopes=SCOPES)
            except (ValueError, KeyError) as exc:
                raise SheetsError(
                    f"connection {self.google_sheets_conn_id!r}: not a service-account key: {exc}"
                ) from None
            session = AuthorizedSession(credentials)
            if base_url:
                session.mount(SHEETS_API, _rebased_adapter(base_url))
            self._client = gspread.Client(auth=credentials, session=session)
            self._client.set_timeout(self.timeout)
        return self._client

    def get_values(self, spreadsheet: str, worksheet: str | None = None) -> list[list[str]]:
        """Every row of a worksheet (the first one when not named), as text, trailing blanks trimmed."""
        import gspread

        client = self.get_client()
        try:
            book = (
                client.open_by_url(spreadsheet) if spreadsheet.startswith("http") else client.open_by_key(spreadsheet)
            )
            sheet = book.worksheet(worksheet) if worksheet else book.sheet1
            return sheet.get_all_values()
        except gspread.exceptions.SpreadsheetNotFound:
            raise SheetsError(
                f"spreadsheet {spreadsheet!r} was not found, or is not shared with the service account"
            ) from None
        except gspread.exceptions.WorksheetNotFound:
            titles = [w.title for w in book.worksheets()]
            raise SheetsError(f"spreadsheet {spreadsheet!r} has no worksheet {worksheet!r}; it has {titles}") from None
        except gspread.exceptions.APIError as exc:
            raise SheetsError(f"Google Sheets refused to read {spreadsheet!r}: {exc}") from None
