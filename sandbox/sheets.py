"""A local stand-in for the Google APIs a Sheets source uses, following their published shapes.

- ``POST /token``: the OAuth2 token endpoint a service account's JWT assertion goes to (its ``token_uri``);
  answers ``{"access_token", "expires_in", "token_type"}``.
- ``GET /v4/spreadsheets/{id}``: spreadsheet metadata (``properties``, ``sheets[].properties`` with
  ``sheetId``, ``title``, ``index``, ``gridProperties``), 404 in Google's error shape for an unknown id.
- ``GET /v4/spreadsheets/{id}/values/{range}``: a ValueRange (``range``, ``majorDimension``, ``values``),
  trailing empty cells trimmed as Google does.
- ``GET /spreadsheets/d/{id}/export?format=csv&gid=N``: the public CSV download link.

The Sheets endpoints require the bearer token issued by ``/token``. Tests point gspread at it through the
connection's ``api_base_url``; the service account key's ``token_uri`` names ``/token``.
"""

from __future__ import annotations

import csv
import io
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse


@dataclass
class FakeSheets:
    """Spreadsheets by id -> worksheet title -> rows; plus what was asked of the server."""

    spreadsheets: dict[str, dict[str, list[list[Any]]]] = field(default_factory=dict)
    public: set[str] = field(default_factory=set)
    requests: list[tuple[str, str]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _google_error(code: int, message: str, status: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "status": status}}, status_code=code)


def _trimmed(rows: list[list[Any]]) -> list[list[str]]:
    out = []
    for row in rows:
        cells = ["" if v is None else str(v) for v in row]
        while cells and cells[-1] == "":
            cells.pop()
        out.append(cells)
    while out and not out[-1]:
        out.pop()
    return out


def create_sheets_app(state: FakeSheets) -> FastAPI:
    """The app serving ``state``."""
    app = FastAPI(title="Google Sheets API stand-in")

    def record(request: Request) -> None:
        with state.lock:
            state.requests.append((request.method, request.url.path))

    def authorised(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        return header.startswith("Bearer ") and header[7:] in state.tokens

    @app.post("/token")
    async def token(request: Request) -> JSONResponse:
        record(request)
        form = await request.form()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" or not form.get("assertion"):
            return JSONResponse({"error": "invalid_grant", "error_description": "bad assertion"}, status_code=400)
        issued = secrets.token_urlsafe(24)
        state.tokens.add(issued)
        return JSONResponse({"access_token": issued, "expires_in": 3600, "token_type": "Bearer"})

    def guarded(request: Request, spreadsheet_id: str) -> dict[str, list[list[Any]]] | JSONResponse:
        """Record the call; the spreadsheet, or Google's 401/404 answer."""
        record(request)
        if not authorised(request):
            return _google_error(401, "Request is missing required authentication credential.", "UNAUTHENTICATED")
        book = state.spreadsheets.get(spreadsheet_id)
        if book is None:
            return _google_error(404, "Requested entity was not found.", "NOT_FOUND")
        return book

    @app.get("/v4/spreadsheets/{spreadsheet_id}")
    async def metadata(request: Request, spreadsheet_id: str) -> JSONResponse:
        book = guarded(request, spreadsheet_id)
        if isinstance(book, JSONResponse):
            return book
        sheets = [
            {
                "properties": {
                    "sheetId": index,
                    "title": title,
                    "index": index,
                    "sheetType": "GRID",
                    "gridProperties": {"rowCount": max(len(rows), 1000), "columnCount": 26},
                }
            }
            for index, (title, rows) in enumerate(book.items())
        ]
        return JSONResponse(
            {
                "spreadsheetId": spreadsheet_id,
                "properties": {
                    "title": f"Spreadsheet {spreadsheet_id}",
                    "locale": "en_ZA",
                    "timeZone": "Africa/Johannesburg",
                },
                "sheets": sheets,
                "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{spreadsheet_id}/edit",
            }
        )

    @app.get("/v4/spreadsheets/{spreadsheet_id}/values/{value_range:path}")
    async def values(request: Request, spreadsheet_id: str, value_range: str) -> JSONResponse:
        book = guarded(request, spreadsheet_id)
        if isinstance(book, JSONResponse):
            return book
        title = unquote(value_range).split("!", 1)[0].strip("'").replace("''", "'")
        if title not in book:
            return _google_error(400, f"Unable to parse range: {unquote(value_range)}", "INVALID_ARGUMENT")
        body: dict[str, Any] = {"range": f"'{title}'!A1:Z1000", "majorDimension": "ROWS"}
        rows = _trimmed(book[title])
        if rows:
            body["values"] = rows
        return JSONResponse(body)

    @app.get("/spreadsheets/d/{spreadsheet_id}/export")
    async def export(request: Request, spreadsheet_id: str, gid: int = 0) -> Any:
        record(request)
        book = state.spreadsheets.get(spreadsheet_id)
        if book is None or spreadsheet_id not in state.public:
            return PlainTextResponse("Sorry, unable to open the file at this time.", status_code=404)
        titles = list(book)
        if gid >= len(titles):
            return PlainTextResponse("Sheet not found", status_code=400)
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(_trimmed(book[titles[gid]]))
        return PlainTextResponse(buffer.getvalue(), media_type="text/csv; charset=utf-8")

    return app
