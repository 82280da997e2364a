"""The distributed deployment: docker-compose.yaml (CeleryExecutor layout), the Dockerfile and .env.example.

There is no Docker daemon on CI machines: the file is checked statically (YAML anchors and merge keys resolved)
and by compose's own parser (`docker compose config`, or Debian's docker-compose, which `make test` installs),
which needs no daemon.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT

AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def _shared_settings() -> dict[str, str]:
    """deploy/airflow.env: the settings compose and ``make cluster`` share."""
    lines = (ROOT / "deploy" / "airflow.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_compose_has_the_official_celery_layout_built_from_the_project_image() -> None:
    services = _compose()["services"]

    assert set(services) == {"postgres", "redis", "airflow-init", *AIRFLOW_SERVICES}
    for name, command in AIRFLOW_SERVICES.items():
        service = services[name]
        assert service["command"] == command, name
        assert service["build"] == ".", name
        env = service["environment"]
        assert _shared_settings()["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert service["env_file"][0] == "deploy/airflow.env"
        assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://:@redis:6379/0"
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert "postgres/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert service["depends_on"]["airflow-init"] == {"condition": "service_completed_successfully"}
        assert {"postgres", "redis"} <= set(service["depends_on"])
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"] == {"condition": "service_healthy"}
    assert services["airflow-init"]["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"


def test_every_airflow_container_shares_the_secrets_from_env_and_none_is_in_the_file() -> None:
    services = _compose()["services"]
    airflow = [services[n] for n in (*AIRFLOW_SERVICES, "airflow-init")]

    for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API__SECRET_KEY"):
        values = {service["environment"][key] for service in airflow}
        assert len(values) == 1, key  # one shared value, or workers' tokens fail signature checks
        assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", values.pop()), key  # required from .env, no default
    assert all(s["env_file"] == ["deploy/airflow.env", ".env"] for s in airflow)  # connections (AIRFLOW_CONN_*) too
    text = (ROOT / "docker-compose.yaml").read_text()
    assert not re.search(r"(?i)(password|secret|fernet)[^:\n]*:\s*['\"]?[A-Za-z0-9+/=_-]{8,}['\"]?\s*$", text, re.M)
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    example = (ROOT / ".env.example").read_text()
    for key in ("POSTGRES_PASSWORD", "FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"):
        assert re.search(rf"^{key}=$", example, re.M), f"{key} must be in .env.example, empty"


def test_mounts_staging_volume_and_healthchecks() -> None:
    compose = _compose()
    services = compose["services"]

    for name in AIRFLOW_SERVICES:
        volumes = services[name]["volumes"]
        assert "./include:/opt/airflow/include" in volumes
        assert "./dags:/opt/airflow/dags" in volumes
        assert "staging:/opt/airflow/staging" in volumes  # one staging volume for every worker
        assert services[name]["environment"]["S2S_STAGING_URL"] == "file:///opt/airflow/staging"
        assert services[name]["environment"]["S2S_SOURCES_DIR"] == "/opt/airflow/include/sources"
    assert "staging" in compose["volumes"]
    for name in ("postgres", "redis", *AIRFLOW_SERVICES):
        assert services[name]["healthcheck"]["test"], name
    assert "/api/v2/monitor/health" in " ".join(services["airflow-apiserver"]["healthcheck"]["test"])


def test_the_image_adds_unixodbc_and_the_drivers_to_airflow_3_3_2() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert re.search(r"^FROM apache/airflow:3\.3\.2$", dockerfile, re.M)
    for package in ("unixodbc", "tdsodbc", "odbc-postgresql", "odbc-mariadb"):
        assert re.search(rf"\b{package}\b", dockerfile), package
    assert '"apache-airflow==${AIRFLOW_VERSION}" -r /opt/s2s/requirements.txt -c /opt/s2s/constraints.txt' in dockerfile


def _compose_command() -> list[str]:
    """Compose's own parser: the v2 plugin where Docker has it, else Debian's docker-compose (``make test``
    installs it: validating a file needs no daemon)."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0:
        return [docker, "compose"]
    found = shutil.which("docker-compose")
    assert found, "no compose parser: run `bash scripts/ensure_test_tools.sh` (make test does)"
    return [found]


def test_compose_itself_accepts_the_file(tmp_path: Path) -> None:
    # A project folder of its own: compose reads .env from there (the secrets are required, as in a deployment).
    shutil.copy(ROOT / "docker-compose.yaml", tmp_path / "docker-compose.yaml")
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    (tmp_path / ".env").write_text(re.sub(r"=\s*$", "=x", (ROOT / ".env.example").read_text(), flags=re.M))

    result = subprocess.run([*_compose_command(), "config"], capture_output=True, text=True, check=False, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)["services"]
    # What compose itself resolved: every Airflow container shares the state store and the secrets from .env.
    for name in (*AIRFLOW_SERVICES, "airflow-init"):
        env = resolved[name]["environment"]
        assert env["AIRFLOW_CONN_S2S_STATE"] == "postgresql://airflow:x@postgres/s2s_state", name
        assert env["AIRFLOW__CORE__FERNET_KEY"] == "x", name
    assert resolved["airflow-worker"]["command"] in ("celery worker", ["celery", "worker"])
    # The shared settings reach every container as compose resolves them ...
    shared = _shared_settings()
    for name in (*AIRFLOW_SERVICES, "airflow-init"):
        env = resolved[name]["environment"]
        assert {key: str(env.get(key)) for key in shared} == shared, name
    # ... and make cluster's components the same, from the same file.
    cluster = subprocess.run(
        ["bash", str(ROOT / "scripts" / "cluster.sh"), "env"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    exported = dict(line.split("=", 1) for line in cluster.splitlines() if "=" in line)
    assert {key: exported.get(key) for key in shared} == shared
    assert exported["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_compose_keeps_the_order_ledger_in_its_own_database_and_creates_the_order_pools() -> None:
    services = _compose()["services"]

    for name in (*AIRFLOW_SERVICES, "airflow-init"):
        state = services[name]["environment"]["AIRFLOW_CONN_S2S_STATE"]
        # One database every worker reaches, beside (not inside) Airflow's metadata database.
        assert re.fullmatch(r"postgresql://airflow:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres/s2s_state", state), name
    init_sql = (ROOT / "scripts" / "compose-initdb.sql").read_text()
    assert "CREATE DATABASE s2s_state" in init_sql
    assert (
        "./scripts/compose-initdb.sql:/docker-entrypoint-initdb.d/10-s2s-state.sql:ro"
        in (services["postgres"]["volumes"])
    )
    assert "stock2shop_sync.cli ensure-pools" in services["airflow-init"]["command"][-1]


def _up_settings(**env: str) -> str:
    import os

    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "up.sh")],
        env={**{k: v for k, v in os.environ.items() if k != "S2S_STATE_URL"}, "UP_PRINT_ONLY": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_up_uses_the_local_postgresql_and_one_variable_moves_its_port() -> None:
    out = _up_settings(AIRFLOW_PORT="8123")

    assert "metadata: PostgreSQL (postgresql://postgres@127.0.0.1:5432/s2s_up_airflow)" in out
    assert "state store: postgresql://postgres@127.0.0.1:5432/s2s_up_state" in out
    assert "UI and API on port 8123" in out
    assert "WARNING" not in out


def test_make_up_falls_back_to_sqlite_with_a_warning_about_backfills() -> None:
    out = _up_settings(S2S_UP_POSTGRES="postgresql://postgres@127.0.0.1:1", S2S_STATE_URL="postgresql://u:pw@db/x")

    assert "WARNING: no PostgreSQL answers" in out
    assert "database is locked" in out
    assert "metadata: SQLite in" in out
    assert "state store: postgresql://u:***@db/x" in out  # a password never printed
