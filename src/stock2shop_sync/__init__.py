"""Stock2Shop sync for Apache Airflow: sources (ERPs, SQL databases, files, sheets) into Stock2Shop."""

from __future__ import annotations

__version__ = "0.1.0"
