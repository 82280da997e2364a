"""The host name Airflow records for a task (``[core] hostname_callable``): the machine's name, prefixed with
``S2S_WORKER_NAME`` where several workers share one machine (``make cluster``), so the task instances say which
worker ran them."""

from __future__ import annotations

import os
import socket


def worker_hostname() -> str:
    """``<S2S_WORKER_NAME>.<fqdn>``, or the fully qualified host name when the variable is not set."""
    fqdn = socket.getfqdn()
    name = os.environ.get("S2S_WORKER_NAME", "").strip()
    return f"{name}.{fqdn}" if name else fqdn
