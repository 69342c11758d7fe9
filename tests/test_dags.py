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


def test_produce_dag_runs_the_stages_in_the_gpu_pool_in_order() -> None:
    dag = _bag(REPO / "dags").dags["produce_shorts"]
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert dag.timetable.expression == "*/20 * * * *"  # the safety net beside REST triggers
    tasks = {t.task_id: t for t in dag.tasks}
    stages = ("write_scripts", "speak", "render")
    assert {t: tasks[t].pool for t in tasks} == {
        "claim": "default_pool",
        "gather_pictures": "default_pool",
        "write_scripts": "gpu",
        "speak": "gpu",
        "render": "gpu",
        "finish": "default_pool",
    }
    for stage in stages:
        assert tasks[stage].retries >= 2
        assert tasks[stage].retry_exponential_backoff
        assert tasks[stage].execution_timeout is not None
    assert tasks["write_scripts"].upstream_task_ids == {"claim"}
    assert tasks["speak"].upstream_task_ids == {"write_scripts"}
    assert tasks["render"].upstream_task_ids == {"speak", "gather_pictures"}
    assert tasks["finish"].upstream_task_ids == {"claim", "write_scripts", "speak", "render"}
    assert tasks["finish"].trigger_rule == "all_done"


def test_publish_dag_uploads_outside_the_gpu_pool_and_has_no_schedule_by_default() -> None:
    dag = _bag(REPO / "dags").dags["publish_shorts"]
    assert dag.max_active_runs == 1
    assert dag.schedule is None  # WAGGLE_PUBLISH_SCHEDULE is unset here
    tasks = {t.task_id: t for t in dag.tasks}
    assert {t.pool for t in tasks.values()} == {"default_pool"}
    # One upload per platform, mapped over the run's platforms and labelled with each.
    upload = tasks["upload"]
    assert upload.upstream_task_ids == {"platforms"}
    assert upload.map_index_template == "{{ platform }}"
    assert upload.retries >= 2
    assert set(dag.params) == {"post_ids", "platforms", "privacy"}


def test_gpu_stages_go_to_queue_gpu_and_everything_else_to_default() -> None:
    bag = _bag(REPO / "dags")
    queues = {(dag_id, t.task_id): t.queue for dag_id, dag in bag.dags.items() for t in dag.tasks}
    gpu = {("produce_shorts", t) for t in ("write_scripts", "speak", "render")}
    assert {k for k, q in queues.items() if q == "gpu"} == gpu
    assert {q for k, q in queues.items() if k not in gpu} == {"default"}
    # The queue travels with the pool: a task in pool gpu is on queue gpu, and only those.
    for dag in bag.dags.values():
        for t in dag.tasks:
            assert (t.pool == "gpu") == (t.queue == "gpu"), (dag.dag_id, t.task_id)
    # Declared once: the DAG files name neither queue themselves.
    for dag_file in (REPO / "dags").glob("*.py"):
        text = dag_file.read_text()
        assert "queue=" not in text, dag_file
        assert '"gpu"' not in text, dag_file


@pytest.mark.parametrize(
    ("env", "runs"),
    [
        ({}, 1),
        ({"WAGGLE_EXECUTOR": "celery", "WAGGLE_GPU_WORKERS": "3"}, 3),
        (
            {
                "WAGGLE_EXECUTOR": "celery",
                "WAGGLE_GPU_WORKERS": "2",
                "WAGGLE_REMOTE_GPU_WORKERS": "3",
            },
            5,
        ),
        ({"WAGGLE_EXECUTOR": "local", "WAGGLE_GPU_WORKERS": "3"}, 1),
    ],
)
def test_one_sweep_at_a_time_per_gpu_slot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], runs: int
) -> None:
    for name in ("WAGGLE_EXECUTOR", "WAGGLE_GPU_WORKERS", "WAGGLE_REMOTE_GPU_WORKERS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "produce_shorts.py").write_text((REPO / "dags" / "produce_shorts.py").read_text())
    dag = DagBag(dag_folder=str(tmp_path), known_pools=KNOWN_POOLS).dags["produce_shorts"]
    assert dag.max_active_runs == runs


def test_a_publish_schedule_comes_from_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WAGGLE_PUBLISH_SCHEDULE", "0 9,18 * * *")
    (tmp_path / "publish_shorts.py").write_text((REPO / "dags" / "publish_shorts.py").read_text())
    dag = DagBag(dag_folder=str(tmp_path), known_pools=KNOWN_POOLS).dags["publish_shorts"]
    assert dag.timetable.expression == "0 9,18 * * *"


def test_an_auto_publish_schedule_runs_hourly_and_decides_in_the_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WAGGLE_PUBLISH_SCHEDULE", "auto")
    (tmp_path / "publish_shorts.py").write_text((REPO / "dags" / "publish_shorts.py").read_text())
    dag = DagBag(dag_folder=str(tmp_path), known_pools=KNOWN_POOLS).dags["publish_shorts"]
    assert dag.timetable.expression == "0 * * * *"


def test_collect_stats_reads_hourly_and_learns_beside_it() -> None:
    dag = _bag(REPO / "dags").dags["collect_stats"]
    assert (dag.max_active_runs, dag.catchup) == (1, False)
    assert {t.task_id: t.pool for t in dag.tasks} == {
        "collect": "default_pool",
        "learn": "default_pool",
    }
    assert all(not t.upstream_task_ids for t in dag.tasks)  # a failed read still learns


HEAVY = ("scrapy", "torch", "transformers", "googleapiclient", "streamlit", "edge_tts")


@pytest.mark.parametrize("dag_file", sorted((REPO / "dags").glob("*.py")), ids=lambda p: p.name)
def test_parsing_a_dag_imports_nothing_heavy(dag_file: Path) -> None:
    import subprocess
    import sys

    probe = (
        "import importlib.util, json, sys, time\n"
        f"spec = importlib.util.spec_from_file_location('d', {str(dag_file)!r})\n"
        "t = time.perf_counter(); spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
