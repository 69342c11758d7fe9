"""The distributed mode for real: CeleryExecutor over Redis, PostgreSQL, and Celery workers.

One stack for the module, started as a user starts it (``up --executor celery
--gpu-workers 2``) in its own home and on its own ports: MariaDB, PostgreSQL,
Redis, the four Airflow components, a default-queue worker and two gpu-queue
workers. The tests run in file order; the last one stops it all.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import psutil
import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from wagglebot_stack import Stack

from wagglebot.core.db import make_engine
from wagglebot.core.db.models import Content, Post, StageRun
from wagglebot.core.post_files import media_path
from wagglebot.core.statuses import PostStatus, Stage, StageOutcome
from wagglebot.crawl.sites import sample_base_urls as base_urls
from wagglebot.crawl.sites import sample_site_codes as site_codes
from wagglebot.ops.supervision import log_tail
from wagglebot.orchestration.api import AirflowClient

from conftest import REPO, free_ports, make_settings
from crawl_support import SITES, expected, stored_posts
from factories import add_posts
from stack_support import RunningStack, brought_up, stack_env, stack_processes, succeeded

STORY = (
    "퇴근길에 작은 고양이가 집 앞까지 따라왔어요. 배가 고파 보여서 참치를 조금 나눠줬습니다. "
    "다음 날 아침에도 문 앞에서 기다리고 있더라고요. 결국 이름을 지어주고 같이 살기로 했어요."
)
GPU_TASKS = {"write_scripts", "speak", "render"}
# A task whose worker died is failed (and retried) after this long without a heartbeat.
HEARTBEAT_TIMEOUT = 40


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    # PostgreSQL runs as the OS user postgres, which must be able to enter the stack home
    # (pytest's own temporary folders are 0700).
    home = Path(tempfile.mkdtemp(prefix="wagglebot-celery-"))
    home.chmod(0o711)
    settings = make_settings(home, db_name="wagglebot_celery").model_copy(
        update={
            "crawl_target": "sample",
            "sample_site_port": free_ports(len(site_codes())),
            "postgres_port": free_ports(),
            "redis_port": free_ports(),
            "script_review": False,
        }
    )
    env = stack_env(settings, home, [REPO / "dags"])
    env["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"] = str(HEARTBEAT_TIMEOUT)
    try:
        with brought_up(
            settings, env, "--executor", "celery", "--gpu-workers", "2", "--no-job"
        ) as running:
            yield running
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def sessions(stack: RunningStack) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(stack.settings.db_url.get_secret_value())
    yield sessionmaker(engine)
    engine.dispose()


def _approved_posts(sessions: sessionmaker[Session], n: int) -> list[int]:
    with sessions() as session:
        return add_posts(
            session,
            n,
            status=PostStatus.APPROVED,
            title="퇴근길 고양이 입양 후기",
            content=STORY,
            site_code="nate_pann",
        )


def _assert_rendered_once(session: Session, post_id: int) -> None:
    assert session.get(Post, post_id).status is PostStatus.RENDERED
    count = select(func.count()).select_from(Content).where(Content.post_id == post_id)
    assert session.scalar(count) == 1


def _idle(client: AirflowClient) -> None:
    """Wait out the runs Airflow starts on its own (the latest scheduled interval when the
    DAG first appears): each holds one of the max_active_runs places."""
    for active in client.active_runs("produce_shorts"):
        _wait(client, active["dag_run_id"])


def _sweep(client: AirflowClient, batch: int) -> str:
    run = client.trigger("produce_shorts", {"batch": batch, "review_scripts": False})
    return run["dag_run_id"]


def _wait(client: AirflowClient, run_id: str, timeout: float = 600) -> dict:
    return client.wait("produce_shorts", run_id, timeout=timeout)


def test_up_starts_the_broker_the_metadata_db_and_the_workers(stack: RunningStack) -> None:
    out = stack.up_output
    assert "CeleryExecutor" in out
    assert "2 gpu-queue workers" in out
    done = stack.cli("status")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = {ln.split()[0]: ln for ln in done.stdout.splitlines() if ln.strip()}
    assert f"127.0.0.1:{stack.settings.postgres_port}" in lines["postgres"]
    assert f"127.0.0.1:{stack.settings.redis_port}" in lines["redis"]
    assert "RUNNING" in lines["airflow-worker"]
    assert lines["airflow-worker"].endswith("; queue default, concurrency 4")  # and answering
    for n in (1, 2):
        line = lines[f"airflow-worker-gpu-{n}"]
        assert re.search(r"RUNNING  pid \d+, .*; queue gpu, concurrency 1$", line), line
    headers = {"Authorization": f"Bearer {stack.admin_token()}"}
    pools = requests.get(f"{stack.api}/api/v2/pools", headers=headers, timeout=10).json()
    assert next(p for p in pools["pools"] if p["name"] == "gpu")["slots"] == 2
    # Airflow's metadata lives in PostgreSQL now, not in a SQLite file.
    assert not (stack.settings.stack_home / "airflow" / "airflow.db").exists()
    # Secrets are generated, private, and never on a command line.
    for name in ("postgres_password", "redis_password"):
        path = stack.settings.stack_home / "airflow" / name
        assert path.stat().st_mode & 0o777 == 0o600
        secret = path.read_text().strip()
        for proc in psutil.process_iter(["cmdline"]):
            assert secret not in " ".join(proc.info["cmdline"] or [])
    logs = stack.cli("logs", "redis")
    assert "Ready to accept connections" in logs.stdout


def test_a_second_up_in_another_mode_is_refused(stack: RunningStack) -> None:
    done = stack.cli("up", "--no-job")  # LocalExecutor asked for while Celery runs
    assert done.returncode == 1
    assert "running with the celery executor" in done.stderr
    assert "./wagglebot down" in done.stderr


def _gpu_intervals(tis: list[dict]) -> list[tuple[datetime, datetime, str, str]]:
    return sorted(
        (
            datetime.fromisoformat(t["start_date"]),
            datetime.fromisoformat(t["end_date"]),
            t["task_id"],
            t["hostname"],
        )
        for t in tis
        if t["task_id"] in GPU_TASKS and t["start_date"] and t["end_date"]
    )


def _most_at_once(intervals: list[tuple[datetime, datetime, str, str]]) -> int:
    events = sorted(
        itertools.chain.from_iterable(((s, 1), (e, -1)) for s, e, *_ in intervals),
        key=lambda ev: (ev[0], ev[1]),  # an end before a start at the same instant
    )
    now = most = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def test_two_sweeps_run_at_once_each_post_claimed_by_one(
    stack: RunningStack, sessions: sessionmaker[Session]
) -> None:
    client = stack.client()
    client.wait_for_dag("produce_shorts")
    _idle(client)
    posts = _approved_posts(sessions, 4)
    runs = [_sweep(client, 2), _sweep(client, 2)]
    for run_id in runs:
        succeeded(client, "produce_shorts", run_id)

    claimed: dict[str, list[int]] = {}
    for run_id in runs:
        claimed[run_id] = client.xcom("produce_shorts", run_id, "claim")
    taken = sorted(itertools.chain.from_iterable(claimed.values()))
    assert taken == sorted(posts), claimed  # every post once, by exactly one sweep
    with sessions() as session:
        for post_id in posts:
            _assert_rendered_once(session, post_id)
            run_ids = session.scalars(
                select(StageRun.run_id).where(StageRun.post_id == post_id).distinct()
            ).all()
            assert len(run_ids) == 1
            assert run_ids[0] in runs
            assert run_ids[0] in runs

    tis = [t for r in runs for t in client.task_instances("produce_shorts", r)]
    # Routing: GPU stages on queue gpu, run by a gpu worker; the rest on default.
    for t in tis:
        if t["task_id"] in GPU_TASKS:
            assert (t["queue"], t["pool"]) == ("gpu", "gpu"), t
            assert t["hostname"].startswith(("gpu-1@", "gpu-2@")), t
        else:
            assert (t["queue"], t["pool"]) == ("default", "default_pool"), t
            assert t["hostname"].startswith("default@"), t
    gpu = _gpu_intervals(tis)
    assert len(gpu) == 6
    assert {host.split("@")[0] for *_, host in gpu} == {"gpu-1", "gpu-2"}
    # The two sweeps overlapped on the GPUs, never more than the two slots at once.
    timeline = [
        (
            t["task_id"],
            t["dag_run_id"][-8:],
            t["hostname"],
            t["queued_when"],
            t["start_date"],
            t["end_date"],
        )
        for t in sorted(tis, key=lambda t: t["start_date"])
    ]
    assert _most_at_once(gpu) == 2, "\n".join(map(str, timeline))


def _worker_pid(stack: RunningStack, node: str) -> tuple[str, int]:
    name = f"airflow-worker-{node.split('@')[0]}"
    return name, stack.pid(name)


def _celery_stack(stack: RunningStack) -> Stack:
    return Stack(stack.settings.model_copy(update={"executor": "celery", "gpu_workers": 2}))


def _back_after_kill(stack: RunningStack, name: str, killed: int, t0: float) -> float:
    """Seconds from the kill until supervisord runs the service again and it answers."""
    service = _celery_stack(stack).service(name)
    while time.monotonic() - t0 < 90:
        state = stack.programs().get(name)
        if state and state.running and state.pid != killed and service.answers():
            took = time.monotonic() - t0
            print(f"{name}: back and answering {took:.1f} s after kill -9")
            return took
        time.sleep(0.25)
    log = stack.settings.stack_home / "log" / f"{name}.log"
    raise AssertionError(f"{name} is not back: {stack.programs().get(name)}\n{log_tail(log)}")


def _kill(root: psutil.Process, below: list[psutil.Process], whole_tree: bool) -> None:
    """SIGKILL a worker: everything under it at once, as when its machine dies, or only its
    main process, as ``kill -9 PID`` does."""
    for proc in [root, *below] if whole_tree else [root]:
        proc.send_signal(signal.SIGKILL)


@pytest.mark.parametrize("whole_tree", [True, False], ids=["machine-lost", "kill-9-pid"])
def test_a_gpu_worker_killed_mid_render_is_recovered_and_the_post_made_once(
    stack: RunningStack, sessions: sessionmaker[Session], whole_tree: bool
) -> None:
    client = stack.client()
    _idle(client)
    [post_id] = _approved_posts(sessions, 1)
    run_id = _sweep(client, 1)
    folder = media_path(stack.settings, f"posts/{post_id}")
    deadline = time.monotonic() + 400
    render = None
    while time.monotonic() < deadline:
        tis = {t["task_id"]: t for t in client.task_instances("produce_shorts", run_id)}
        render = tis.get("render")
        staging = list(folder.glob(".short-render-*/video.mp4"))
        if render and render["state"] == "running" and render["hostname"] and staging:
            break
        assert client.dag_run("produce_shorts", run_id)["state"] in ("queued", "running")
        time.sleep(0.5)
    else:
        raise AssertionError(f"render never got under way: {render}")
    time.sleep(1)  # a few more frames written into the half file
    killed_node = render["hostname"]
    name, pid = _worker_pid(stack, killed_node)
    worker = psutil.Process(pid)
    below = worker.children(recursive=True)
    task_process = [p for p in below if render["id"] in " ".join(_cmdline(p))]
    assert task_process, [_cmdline(p) for p in below]  # "airflow worker -- <ti id>"
    ffmpeg = [p for p in below if _cmdline(p)[:1] and Path(_cmdline(p)[0]).name == "ffmpeg"]
    assert ffmpeg, [_cmdline(p) for p in below]
    t0 = time.monotonic()
    _kill(worker, below, whole_tree)
    # Nothing of the killed task runs on: not its pool process (the task's supervisor),
    # not the task process (tied to its supervisor), not its ffmpeg (tied to the task).
    # (Airflow's stale-bundle cleanup helper of a worker killed alone does outlive it;
    # `down` ends it with the rest of the stack.)
    task_work = [p for p in below if render["id"] in " ".join(_cmdline(p)) or p in ffmpeg]
    _, alive = psutil.wait_procs(task_work, timeout=30)
    assert alive == [], [_cmdline(p) for p in alive]
    # supervisord starts the worker again by itself.
    assert _back_after_kill(stack, name, pid, t0) < 30

    succeeded(client, "produce_shorts", run_id)
    tries = client.request(
        "GET", f"/dags/produce_shorts/dagRuns/{run_id}/taskInstances/render/tries"
    )["task_instances"]
    by_try = {t["try_number"]: t for t in tries}
    assert by_try[1]["state"] == "failed"
    assert by_try[1]["hostname"] == killed_node
    final = max(by_try)
    assert by_try[final]["state"] == "success"
    assert by_try[final]["hostname"].startswith("gpu-"), by_try  # either, the killed one back

    with sessions() as session:
        _assert_rendered_once(session, post_id)
        renders = session.execute(
            select(StageRun.outcome, StageRun.error)
            .where(StageRun.post_id == post_id, StageRun.stage == Stage.RENDER)
            .order_by(StageRun.attempt)
        ).all()
    assert [o for o, _ in renders] == [StageOutcome.FAILED, StageOutcome.SUCCEEDED], renders
    assert "abandoned" in renders[0][1]
    # No half file left: only whole outputs in the post's folder.
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-of", "json", str(folder / "short.mp4")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert float(json.loads(probe.stdout)["format"]["duration"]) > 10

    # Nobody typed anything: the killed worker is back, counted, and every worker answers.
    status = stack.cli("status").stdout
    line = next(ln for ln in status.splitlines() if ln.startswith(name))
    assert re.search(r"RUNNING  pid \d+, up [\d:]+, [1-9]\d* restarts; queue gpu", line), line
    assert "NOT ANSWERING" not in status, status


@pytest.mark.parametrize("name", ["postgres", "redis", "airflow-worker"])
def test_the_metadata_db_the_broker_and_the_default_worker_come_back_after_kill_9(
    stack: RunningStack, name: str
) -> None:
    pid = stack.pid(name)
    t0 = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    assert _back_after_kill(stack, name, pid, t0) < 30


def test_a_crawl_through_the_scheduler_stores_every_sample_site(
    stack: RunningStack, sessions: sessionmaker[Session]
) -> None:
    """Every bundled site, crawled politely by the celery workers from the sample server:
    each mapped task succeeds and stores exactly what a correct parse gives, comments
    loaded by XHR included."""
    client = stack.client()
    for active in client.active_runs("crawl_communities"):  # Airflow's own first run
        client.wait("crawl_communities", active["dag_run_id"], timeout=900)
    run = client.trigger("crawl_communities")
    succeeded(client, "crawl_communities", run["dag_run_id"], timeout=900)
    tis = client.task_instances("crawl_communities", run["dag_run_id"])
    mapped = {t["rendered_map_index"]: t for t in tis if t["task_id"] == "crawl_site"}
    assert sorted(mapped) == SITES
    assert {t["hostname"].split("@")[0] for t in mapped.values()} == {"default"}
    urls = base_urls(stack.settings.sample_site_port)
    by_id = lambda post: post["origin_id"]  # noqa: E731
    with sessions() as session:
        for site in SITES:
            want = sorted(expected(site, urls[site])["posts"], key=by_id)
            ids = {p["origin_id"] for p in want}
            stored = [p for p in stored_posts(session, site) if p["origin_id"] in ids]
            assert sorted(stored, key=by_id) == want, site
    dcinside = mapped["dcinside"]["map_index"]
    figures = client.xcom("crawl_communities", run["dag_run_id"], "crawl_site", dcinside)
    assert figures["comments_unfetched"] == {"http_403": 1, "missing_e_s_n_o": 1}


def test_down_stops_every_service_and_leaves_nothing_behind(stack: RunningStack) -> None:
    home = stack.settings.stack_home
    done = stack.cli("down", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    ours = stack_processes(home)  # the whole process table, by working folder and command
    ours += [p for p in psutil.process_iter() if _in_stack(p, str(home)) and p not in ours]
    assert ours == [], [_cmdline(p) for p in ours]
    for port in (stack.settings.postgres_port, stack.settings.redis_port):
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/", timeout=2)


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return []


def _in_stack(proc: psutil.Process, home: str) -> bool:
    try:
        return proc.environ().get("WAGGLEBOT_STACK") == home or home in " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
