"""The ``stock2shop_sync`` package is installed, not loaded by Airflow's plugin loader under bare module names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import stock2shop_sync

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "stock2shop_sync"

# Loads Airflow's plugins as every Airflow process does, parses the project's DAG file, then lists the modules
# whose file is in the package but whose name is not the package's (``config`` for stock2shop_sync/config.py).
_PROBE = """
import json, sys
from pathlib import Path
from airflow import plugins_manager
from airflow.dag_processing.dagbag import DagBag
plugins_manager.ensure_plugins_loaded()
bag = DagBag(dag_folder=sys.argv[2])
package = Path(sys.argv[1]).resolve()
bare = sorted(
    name for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None) and Path(module.__file__).resolve().is_relative_to(package)
    and name != "stock2shop_sync" and not name.startswith("stock2shop_sync.")
)
print(json.dumps({"bare": bare, "dags": len(bag.dags), "errors": bag.import_errors}, default=str))
"""


def _probe(plugins_folder: Path, tmp_path: Path) -> dict[str, object]:
    env = {
        **os.environ,
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins_folder),
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(PACKAGE), str(ROOT / "dags" / "stock2shop_sources.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_package_is_installed_from_src() -> None:
    assert Path(stock2shop_sync.__file__).resolve().parent == PACKAGE
    assert metadata.distribution("stock2shop-airflow").version == "0.1.0"


def test_no_module_of_the_package_is_loaded_under_a_bare_name(tmp_path: Path) -> None:
    report = _probe(ROOT / "plugins", tmp_path)
    assert report["errors"] == {}
    assert report["dags"] >= 5  # the demo sources' DAGs and the maintenance DAG were built
    assert report["bare"] == []


def test_the_probe_sees_bare_names_when_the_package_is_a_plugin_folder(tmp_path: Path) -> None:
    # The layout this replaced: the package inside the plugins folder. The same probe must catch it.
    report = _probe(ROOT / "src", tmp_path)
    assert {"config", "factory", "staging"} <= set(report["bare"])  # type: ignore[arg-type]


def test_the_plugins_folder_holds_no_python_but_real_plugins() -> None:
    # Every .py file there runs in every Airflow process; only AirflowPlugin modules belong in it.
    for path in (ROOT / "plugins").rglob("*.py"):
        assert "AirflowPlugin" in path.read_text(encoding="utf-8"), path
