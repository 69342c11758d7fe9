"""Every DAG imports cleanly, quickly and without warnings, and uses only known pools."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from airflow.models import DagBag

from conftest import REPO

KNOWN_POOLS = {"default_pool", "gpu"}
FOLDERS = [REPO / "dags", REPO / "tests" / "airflow_dags"]


def _bag(folder: Path) -> DagBag:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bag = DagBag(dag_folder=str(folder), known_pools=KNOWN_POOLS)
    ours = [w for w in caught if str(folder) in str(w.filename)]
    assert ours == [], [str(w.message) for w in ours]
    return bag


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_dags_import_without_errors_or_warnings(folder: Path) -> None:
    bag = _bag(folder)
    assert bag.import_errors == {}
    assert not bag.dag_warnings
    for dag_file in folder.glob("*.py"):
        assert any(d.fileloc == str(dag_file) for d in bag.dags.values()), dag_file


def test_probe_dag_shape() -> None:
    dag = _bag(REPO / "tests" / "airflow_dags").dags["gpu_pool_probe"]
    assert {t.task_id: t.pool for t in dag.tasks} == {
        "gpu_a": "gpu",
        "gpu_b": "gpu",
        "control": "default_pool",
    }


def test_an_unknown_pool_is_caught(tmp_path: Path) -> None:
    text = (REPO / "tests" / "airflow_dags" / "gpu_pool_probe.py").read_text()
    (tmp_path / "typo.py").write_text(text.replace('pool="gpu"', 'pool="gpus"'))
    bag = DagBag(dag_folder=str(tmp_path), known_pools=KNOWN_POOLS)
    assert "gpus" in " ".join(str(w.message) for w in bag.dag_warnings)
