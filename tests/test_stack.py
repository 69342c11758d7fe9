"""The whole local stack through its command line, as a user runs it.

One stack for the module (MariaDB, the four Airflow processes, the dashboard),
in its own home and on its own ports. The tests run in file order: the last
one stops the stack and checks that nothing is left behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import psutil
import pytest
import requests
from sqlalchemy import text

from wagglebot.airflow_api import AirflowClient, AirflowError
from wagglebot.config import Settings
from wagglebot.db import make_engine
from wagglebot.stack.procs import port_in_use

from conftest import REPO, free_ports, make_settings
from crawl_support import SITES, expected


@dataclass
class RunningStack:
    settings: Settings
    env: dict[str, str]
    up_output: str

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.settings.airflow_port}"

    def cli(self, *args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "wagglebot.stack", *args],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def token(self, user: str, password: str) -> str:
        resp = requests.post(
            f"{self.api}/auth/token", json={"username": user, "password": password}, timeout=10
        )
        assert resp.status_code == 201, resp.text
        return resp.json()["access_token"]

    def client(self) -> AirflowClient:
        return AirflowClient(self.api, "dashboard", "dash-pw")

    def admin_token(self) -> str:
        import json

        passwords = self.settings.stack_home / "airflow" / "simple_auth_manager_passwords.json"
        return self.token("admin", json.loads(passwords.read_text())["admin"])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    home = tmp_path_factory.mktemp("cli-stack")
    dags = home / "dags"
    dags.mkdir()
    for folder in (REPO / "dags", REPO / "tests" / "airflow_dags"):
        for dag_file in folder.glob("*.py"):
            shutil.copy(dag_file, dags)
    settings = make_settings(home, db_name="wagglebot_stack").model_copy(
        update={
            "crawl_target": "sample",
            "sample_site_port": free_ports(len(SITES)),
            # ruliweb points at a port where nothing listens: that site must fail
            # loudly while the others are collected.
            "crawl_base_urls": {"ruliweb": f"http://127.0.0.1:{free_ports()}"},
        }
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("WAGGLE_", "AIRFLOW"))},
        **settings.as_env(),
        "WAGGLE_AIRFLOW_DAGS_FOLDER": str(dags),
        "WAGGLE_ENV_FILE": str(home / ".env"),
    }
    running = RunningStack(settings, env, "")
    done = running.cli("up")
    running.up_output = done.stdout + done.stderr
    try:
        assert done.returncode == 1, running.up_output  # ruliweb failed, as arranged
        yield running
    finally:
        running.cli("down", timeout=120)


def test_up_prints_where_to_look(stack: RunningStack) -> None:
    out = stack.up_output
    assert f"Airflow UI   {stack.api}   login: admin / " in out
    assert f"Dashboard    http://127.0.0.1:{stack.settings.dashboard_port}" in out
    assert "dash-pw" not in out
    assert "t3st-pw" not in out


def test_status_reports_every_part_answering(stack: RunningStack) -> None:
    done = stack.cli("status")
    assert done.returncode == 0, done.stdout + done.stderr
    for part in (
        "mariadb",
        "airflow-api-server",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "dashboard",
    ):
        line = next(ln for ln in done.stdout.splitlines() if ln.startswith(part))
        assert "running" in line or "serving 5 sites" in line, done.stdout


def test_starting_twice_is_harmless(stack: RunningStack) -> None:
    pids = sorted(stack.settings.stack_home.glob("run/*.pid"))
    before = {p.name: p.read_text() for p in pids}
    t0 = time.monotonic()
    done = stack.cli("up", "--no-job")
    assert done.returncode == 0, done.stdout + done.stderr
    assert time.monotonic() - t0 < 30
    assert {p.name: p.read_text() for p in pids} == before


def test_api_needs_a_login_and_lists_the_gpu_pool(stack: RunningStack) -> None:
    assert requests.get(f"{stack.api}/api/v2/pools", timeout=10).status_code == 401
    assert (
        requests.post(
            f"{stack.api}/auth/token", json={"username": "admin", "password": "x"}, timeout=10
        ).status_code
        == 401
    )
    headers = {"Authorization": f"Bearer {stack.admin_token()}"}
    pools = requests.get(f"{stack.api}/api/v2/pools", headers=headers, timeout=10).json()
    gpu = next(p for p in pools["pools"] if p["name"] == "gpu")
    assert gpu["slots"] == 1


def test_dashboard_and_ui_answer(stack: RunningStack) -> None:
    page = requests.get(f"http://127.0.0.1:{stack.settings.dashboard_port}/", timeout=10)
    assert page.status_code == 200
    assert "streamlit" in page.text.lower()
    ui = requests.get(f"{stack.api}/", timeout=10)
    assert ui.status_code == 200
    assert "airflow" in ui.text.lower()


def _wait_json(url: str, headers: dict, ready, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        resp = requests.get(url, headers=headers, timeout=10)
        last = resp.text
        if resp.status_code == 200 and ready(resp.json()):
            return resp.json()
        time.sleep(1)
    raise AssertionError(f"timed out waiting on {url}: {last}")


def test_the_gpu_pool_runs_one_task_at_a_time(stack: RunningStack) -> None:
    # The dashboard's own user-role account triggers the run, as it will in production.
    headers = {"Authorization": f"Bearer {stack.token('dashboard', 'dash-pw')}"}
    dag_url = f"{stack.api}/api/v2/dags/gpu_pool_probe"
    dag = _wait_json(dag_url, headers, lambda d: True, timeout=120)
    assert dag["is_paused"] is False
    resp = requests.post(
        f"{dag_url}/dagRuns", headers=headers, json={"logical_date": None, "conf": {}}, timeout=10
    )
    assert resp.status_code == 200, resp.text
    run_url = f"{dag_url}/dagRuns/{resp.json()['dag_run_id']}"
    run = _wait_json(run_url, headers, lambda r: r["state"] in ("success", "failed"), timeout=240)
    assert run["state"] == "success"

    tis = requests.get(f"{run_url}/taskInstances", headers=headers, timeout=10).json()
    spans = {
        ti["task_id"]: (
            datetime.fromisoformat(ti["start_date"]),
            datetime.fromisoformat(ti["end_date"]),
        )
        for ti in tis["task_instances"]
    }
    pools = {ti["task_id"]: ti["pool"] for ti in tis["task_instances"]}
    assert pools == {"gpu_a": "gpu", "gpu_b": "gpu", "control": "default_pool"}

    def overlap(a: str, b: str) -> bool:
        return spans[a][0] < spans[b][1] and spans[b][0] < spans[a][1]

    assert not overlap("gpu_a", "gpu_b"), spans
    assert overlap("control", "gpu_a") or overlap("control", "gpu_b"), spans


def test_up_runs_the_main_job_and_says_what_it_collected(stack: RunningStack) -> None:
    out = stack.up_output
    assert "Running the main job ..." in out
    for site in SITES:
        if site == "ruliweb":
            continue
        posts = len(expected(site, "http://x")["posts"])
        assert re.search(rf"^  {site} +{posts} posts stored \(", out, re.M), out
    assert re.search(r"^  ruliweb +FAILED: see its log in the Airflow UI", out, re.M), out
    assert "crawl failed:" in out


def _crawl_runs(client: AirflowClient) -> list[dict]:
    return client.request("GET", "/dags/crawl_communities/dagRuns")["dag_runs"]


def test_the_crawl_filled_the_database(stack: RunningStack) -> None:
    engine = make_engine(stack.settings.db_url.get_secret_value())
    with engine.connect() as conn:
        query = text("SELECT site_code, COUNT(*) FROM posts GROUP BY site_code")
        rows = {site: n for site, n in conn.execute(query)}
    engine.dispose()
    want = {s: len(expected(s, "http://x")["posts"]) for s in SITES if s != "ruliweb"}
    assert rows == want


def test_a_site_that_yields_nothing_fails_its_own_task_with_the_cause(
    stack: RunningStack,
) -> None:
    client = stack.client()
    run = next(r for r in _crawl_runs(client) if r["state"] == "failed")
    tis = {
        ti["rendered_map_index"]: ti
        for ti in client.task_instances("crawl_communities", run["dag_run_id"])
        if ti["task_id"] == "crawl_site"
    }
    assert {site: ti["state"] for site, ti in tis.items()} == {
        s: ("failed" if s == "ruliweb" else "success") for s in SITES
    }
    ruliweb = tis["ruliweb"]
    path = (
        f"/dags/crawl_communities/dagRuns/{run['dag_run_id']}/taskInstances/crawl_site/"
        f"logs/{ruliweb['try_number']}"
    )
    log = json.dumps(
        client.request("GET", path, params={"map_index": ruliweb["map_index"]}), ensure_ascii=False
    )
    assert (
        "ruliweb: the crawl stored no post. Likely cause: site unreachable: no response at all"
    ) in log


def test_params_are_checked_by_the_trigger(stack: RunningStack) -> None:
    client = stack.client()
    for bad in ({"sites": ["nope"]}, {"pages": 0}, {"pages": "two"}):
        with pytest.raises(AirflowError, match="HTTP 400"):
            client.trigger("crawl_communities", conf=bad)


def test_a_manual_crawl_of_one_site_and_page(stack: RunningStack) -> None:
    client = stack.client()
    for active in client.active_runs("crawl_communities"):  # the hourly run may be going
        client.wait("crawl_communities", active["dag_run_id"], timeout=300)
    run = client.trigger("crawl_communities", conf={"sites": ["nate_tok"], "pages": 1})
    final = client.wait("crawl_communities", run["dag_run_id"], timeout=300)
    assert final["state"] == "success"
    mapped = [
        ti
        for ti in client.task_instances("crawl_communities", run["dag_run_id"])
        if ti["task_id"] == "crawl_site"
    ]
    assert [ti["rendered_map_index"] for ti in mapped] == ["nate_tok"]
    figures = client.xcom("crawl_communities", run["dag_run_id"], "crawl_site", 0)
    assert (figures["list_pages"], figures["new"], figures["updated"]) == (1, 0, 2)


def test_down_ends_every_process_it_started(stack: RunningStack) -> None:
    run_dir = stack.settings.stack_home / "run"
    pids = [int(p.read_text().split()[0]) for p in run_dir.glob("*.pid") if p.stem != "mariadbd"]
    assert len(pids) == 7  # mariadb, sample site, four Airflow components, dashboard
    tree = set(pids)
    for pid in pids:
        tree |= {c.pid for c in psutil.Process(pid).children(recursive=True)}
    assert len(tree) > len(pids)  # executor workers, log servers ...

    done = stack.cli("down", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    alive = [p for p in tree if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    assert alive == []
    ports = [
        stack.settings.airflow_port,
        stack.settings.airflow_port + 1,
        stack.settings.airflow_port + 2,
        stack.settings.dashboard_port,
    ]
    assert [p for p in ports if port_in_use(p)] == []
    assert list(run_dir.glob("*.pid")) == []
    status = stack.cli("status")
    assert status.returncode == 1
    assert "stopped" in status.stdout
