"""Keeping secrets out of task logs and error messages.

* :func:`mask` registers a secret with Airflow's secrets masker (``airflow.sdk.log.mask_secret``) the moment a
  hook or connector obtains it, as given and in the forms it takes on the wire (URL-quoted in a query string,
  where urllib3's DEBUG lines show it), so the task log writes ``***`` wherever it appears.
* :func:`scrub` takes secrets out of a text that leaves the process another way (an exception message, a
  response body quoted in an error): the known values, ODBC ``PWD=``/``PASSWORD=`` attributes, credentials in
  query strings (``token=``, ``apikey=``...), ``Authorization`` headers and PEM private keys.
* :func:`login_failure` turns a driver's refusal of the login into one message that names the source and the
  connection, and says authentication failed (never the connection string or the password).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote, quote_plus

log = logging.getLogger(__name__)

REDACTED = "***"
#: Query or form parameters that carry credentials.
_CREDENTIAL_PARAMS = (
    "token|access_token|refresh_token|id_token|apikey|api_key|key|client_secret|password|pwd|secret|signature|sig"
)
_PATTERNS = (
    # ODBC connection strings: PWD=secret; or PWD={sec;ret};
    (re.compile(r"(?i)\b(PWD|PASSWORD)=(\{(?:[^}]|\}\})*\}|[^;\s]*)"), r"\1=" + REDACTED),
    # URLs and form bodies: ?token=...&apikey=...
    (re.compile(rf"(?i)([?&;](?:{_CREDENTIAL_PARAMS})=)[^&\s'\"#;]*"), r"\1" + REDACTED),
    # user:password@host in a URL
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@"), r"\1" + REDACTED + "@"),
    # HTTP headers
    (re.compile(r"(?i)(\bauthorization['\"]?\s*[:=]\s*['\"]?(?:bearer|basic|token)?\s*)[^\s'\",}]+"), r"\1" + REDACTED),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL), REDACTED),
)


def _forms(value: str) -> set[str]:
    """The secret as given and as it is written into a URL or a form body."""
    return {value, quote(value, safe=""), quote_plus(value)}


def mask(*values: str | None) -> None:
    """Register secrets with Airflow's masker (best effort: outside a task there may be none), each also
    URL-quoted, because a secret with ``!``, ``+`` or ``/`` is written differently in a query string."""
    try:
        from airflow.sdk.log import mask_secret
    except Exception:  # noqa: BLE001 - no Airflow task SDK: nothing to register with
        log.debug("secrets masker unavailable")
        return
    for value in values:
        if not value or not isinstance(value, str):
            continue
        for form in _forms(value):
            try:
                mask_secret(form)
            except Exception:  # noqa: BLE001 - masking is best effort outside a task
                log.debug("secrets masker refused a value")


def scrub(text: str, *secrets: str | None) -> str:
    """``text`` without the given secrets (in any of their URL forms) and without anything that looks like a
    credential: ODBC passwords, credential query parameters, ``Authorization`` values and private keys."""
    for secret in sorted({f for s in secrets if s for f in _forms(s)}, key=len, reverse=True):
        if len(secret) >= 3:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


#: What ODBC drivers say when the login is refused: SQLSTATE 28000/28P01 and the servers' own words.
_LOGIN_REFUSED = re.compile(
    r"\b28(000|P01)\b|password authentication failed|access denied for user|login failed for user|"
    r"authentication failed|invalid (user|username|login|password)|no password supplied",
    re.IGNORECASE,
)


def is_login_failure(exc: BaseException) -> bool:
    """Whether a driver error says the database refused the login."""
    return bool(_LOGIN_REFUSED.search(" ".join(str(a) for a in getattr(exc, "args", ())) or str(exc)))


class SourceAuthError(Exception):
    """A source's database or API refused the login: retrying cannot fix this."""


def login_failure(exc: BaseException, source_id: str, conn_id: str, *secrets: str | None) -> SourceAuthError:
    """The error to raise (``from None``) when ``exc`` says the login of ``conn_id`` was refused."""
    detail = scrub(" ".join(str(exc).split()), *secrets)[:300]
    return SourceAuthError(
        f"source {source_id}: authentication failed for the database of connection {conn_id!r}: the login or "
        f"password was refused; fix the connection's credentials ({detail})"
    )
