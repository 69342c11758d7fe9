"""Benchmark: posts per hour through the running Airflow stack, and Airflow's share of it.

    ./wagglebot up --no-job          # the stack this measures (offline engines by default)
    .venv/bin/python bench/sweep/run.py [--posts 4] [--rounds 2]

    ./wagglebot up --executor celery --gpu-workers 2 --no-job
    .venv/bin/python bench/sweep/run.py --executor celery --gpu-workers 2 [--posts 4]

Side by side, rounds alternating, the same batch of posts each time:

- airflow: the posts are approved and a produce_shorts run is triggered through
  the REST API (as the dashboard does); timed from the trigger to the run's end.
- direct: the same sweep functions (claim, write_scripts, gather_pictures, speak,
  render, finish) called one after another in this process: the stage work alone.

Reported: posts per hour for each, their ratio, and where the Airflow run's wall
time went: stage work (the stage_runs rows: script, voice, render per post),
inside tasks but outside stages (process start, imports, DB bookkeeping), and
between tasks (scheduling, queueing). Bench posts (site_code "bench") and their
media are deleted afterwards. Results go to bench/results/sweep.json.

Celery mode measures the scaling instead, on the running celery stack, rounds
alternating: with 1 gpu worker (the others stopped, pool gpu at 1 slot) one sweep
takes the batch; with N (stopped workers started again by the stack's own start,
pool at N) N sweeps share it, as produce_shorts runs them. Beside them, the same
batch through the direct path: 1 worker against direct is what the broker, the
workers and the scheduler cost; N against 1 is the scaling. On a CPU-only machine
N render processes share its cores, so the scaling is bounded by the core count.
Results go to bench/results/sweep-celery.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, func, select

from wagglebot.core.config import get_settings
from wagglebot.core.db import settings_session
from wagglebot.core.db.models import Post, StageRun
from wagglebot.core.post_files import post_folder
from wagglebot.core.statuses import PostStatus
from wagglebot.orchestration.api import AirflowClient
from wagglebot.orchestration.dag_ids import PRODUCE_DAG
from wagglebot.produce.batch import claim_batch, finish
from wagglebot.produce.tasks import gather_pictures, render, speak, write_scripts

REPO = Path(__file__).resolve().parents[2]
SITE = "bench"
STORIES = [
    (
        "회사 탕비실 커피 도둑을 찾았습니다",
        "회사 탕비실 커피가 매일 사라져서 CCTV를 확인해 봤어요. "
        "범인은 바로 옆 팀 팀장님이었습니다. 그 뒤로 팀장님은 매주 커피를 사 오십니다. "
        "다들 비슷한 경험 있으신가요?",
    ),
    (
        "퇴근길 고양이가 집까지 따라왔어요",
        "퇴근길에 작은 고양이가 집 앞까지 따라왔어요. 배가 고파 보여서 참치를 조금 나눠줬습니다. "
        "다음 날 아침에도 문 앞에서 기다리고 있더라고요. 결국 이름을 지어주고 같이 살기로 했어요.",
    ),
]
_seq = itertools.count()


def add_bench_posts(n: int, status: PostStatus) -> list[int]:
    settings = get_settings()
    stamp = time.time_ns()
    with settings_session(settings) as session:
        posts = []
        for i in range(n):
            title, body = STORIES[i % len(STORIES)]
            posts.append(
                Post(
                    site_code=SITE,
                    origin_id=f"{stamp}-{next(_seq)}",
                    url="http://127.0.0.1/bench",
                    title=title,
                    content=body,
                    images=[],
                    status=status,
                )
            )
        session.add_all(posts)
        session.flush()
        return [p.id for p in posts]


def stage_seconds(post_ids: list[int]) -> float:
    with settings_session(get_settings()) as session:
        spans = session.execute(
            select(StageRun.started_at, StageRun.finished_at).where(
                StageRun.post_id.in_(post_ids), StageRun.finished_at.is_not(None)
            )
        ).all()
    return sum((end - start).total_seconds() for start, end in spans)


def statuses(post_ids: list[int]) -> dict[str, int]:
    with settings_session(get_settings()) as session:
        rows = session.execute(
            select(Post.status, func.count()).where(Post.id.in_(post_ids)).group_by(Post.status)
        ).all()
    return {str(s): n for s, n in rows}


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def airflow_round(client: AirflowClient, n: int) -> dict:
    for active in client.active_runs(PRODUCE_DAG):
        client.wait(PRODUCE_DAG, active["dag_run_id"], timeout=1800)
    ids = add_bench_posts(n, PostStatus.APPROVED)
    t0 = time.monotonic()
    # Straight through (no stop for a script review): the bench measures the machine work.
    conf = {"batch": n, "review_scripts": False}
    run = client.trigger(PRODUCE_DAG, conf=conf, note="bench/sweep")
    final = client.wait(PRODUCE_DAG, run["dag_run_id"], timeout=1800, poll=0.5)
    wall = time.monotonic() - t0
    tis = client.task_instances(PRODUCE_DAG, run["dag_run_id"])
    in_tasks = sum((_when(t["end_date"]) - _when(t["start_date"])).total_seconds() for t in tis)
    # Tasks overlap (pictures beside the script): count the critical path's busy time.
    spans = sorted((_when(t["start_date"]), _when(t["end_date"])) for t in tis)
    busy, cursor = 0.0, None
    for start, end in spans:
        if cursor is None or start > cursor:
            busy += (end - start).total_seconds()
            cursor = end
        elif end > cursor:
            busy += (end - cursor).total_seconds()
            cursor = end
    work = stage_seconds(ids)
    return {
        "state": final["state"],
        "posts": n,
        "statuses": statuses(ids),
        "wall_s": round(wall, 2),
        "stage_work_s": round(work, 2),
        "task_time_s": round(in_tasks, 2),
        "busy_s": round(busy, 2),
        "ids": ids,
    }


def direct_round(n: int) -> dict:
    settings = get_settings()
    ids = add_bench_posts(n, PostStatus.APPROVED)
    t0 = time.monotonic()
    claimed = claim_batch(settings, batch=n)
    scripts = write_scripts(claimed, settings=settings, review=False)
    pictures = gather_pictures(claimed, settings)
    voices = speak(scripts, settings=settings)
    videos = render(voices, pictures, settings=settings)
    finish(claimed, scripts, voices, videos, settings)
    wall = time.monotonic() - t0
    if sorted(claimed) != sorted(ids):
        raise RuntimeError(f"the direct round claimed {claimed}, not its posts {ids}")
    return {
        "posts": n,
        "statuses": statuses(ids),
        "wall_s": round(wall, 2),
        "stage_work_s": round(stage_seconds(ids), 2),
        "ids": ids,
    }


def celery_round(client: AirflowClient, n: int, sweeps: int) -> dict:
    for active in client.active_runs(PRODUCE_DAG):
        client.wait(PRODUCE_DAG, active["dag_run_id"], timeout=1800)
    ids = add_bench_posts(n, PostStatus.APPROVED)
    per = -(-n // sweeps)
    t0 = time.monotonic()
    conf = {"batch": per, "review_scripts": False}
    runs = [client.trigger(PRODUCE_DAG, conf=conf, note="bench/sweep") for _ in range(sweeps)]
    states = [
        client.wait(PRODUCE_DAG, r["dag_run_id"], timeout=1800, poll=0.5)["state"] for r in runs
    ]
    wall = time.monotonic() - t0
    hosts = sorted(
        {
            t["hostname"]
            for r in runs
            for t in client.task_instances(PRODUCE_DAG, r["dag_run_id"])
            if t["pool"] == "gpu"
        }
    )
    return {
        "states": states,
        "posts": n,
        "sweeps": sweeps,
        "gpu_hosts": hosts,
        "statuses": statuses(ids),
        "wall_s": round(wall, 2),
        "stage_work_s": round(stage_seconds(ids), 2),
        "ids": ids,
    }


def celery_bench(args: argparse.Namespace, client: AirflowClient) -> None:
    from wagglebot_stack import Stack
    from wagglebot_stack.airflow import recorded_mode

    settings = get_settings()
    mode = recorded_mode(settings.stack_home)
    if mode.get("executor") != "celery" or mode.get("gpu_workers") != args.gpu_workers:
        raise SystemExit(
            f"start the stack first: ./wagglebot up --executor celery "
            f"--gpu-workers {args.gpu_workers} --no-job (it runs {mode or 'nothing'})"
        )
    stack = Stack(settings.model_copy(update=mode))

    def use(workers: int) -> None:
        extra = [f"airflow-worker-gpu-{k}" for k in range(workers + 1, args.gpu_workers + 1)]
        if workers == args.gpu_workers:
            stack.up()  # starts the stopped workers and waits until they answer
        else:
            stack.supervisor.ctl("stop", *extra)
        stack.airflow.set_gpu_slots(workers)

    kinds = {"1 gpu worker": 1, f"{args.gpu_workers} gpu workers": args.gpu_workers}
    rounds: dict[str, list[dict]] = {k: [] for k in [*kinds, "direct"]}
    try:
        for i in range(args.rounds):
            order = [*kinds, "direct"] if i % 2 == 0 else ["direct", *reversed(kinds)]
            for kind in order:
                if kind == "direct":
                    result = direct_round(args.posts)
                else:
                    use(kinds[kind])
                    result = celery_round(client, args.posts, kinds[kind])
                rounds[kind].append(result)
                print(kind, {k: v for k, v in result.items() if k != "ids"}, flush=True)
    finally:
        use(args.gpu_workers)
        cleanup([i for rs in rounds.values() for r in rs for i in r["ids"]])

    walls = {k: statistics.median(r["wall_s"] for r in rs) for k, rs in rounds.items()}
    one, many = walls["1 gpu worker"], walls[f"{args.gpu_workers} gpu workers"]
    summary = {
        "posts_per_round": args.posts,
        "rounds": args.rounds,
        "cores": os.cpu_count(),
        "posts_per_hour": {k: round(args.posts * 3600 / w, 1) for k, w in walls.items()},
        f"{args.gpu_workers}_vs_1_gpu_workers": round(one / many, 3),
        "1_gpu_worker_vs_direct": round(walls["direct"] / one, 3),
        "median_wall_s": walls,
    }
    write_results("sweep-celery.json", summary, rounds)


def write_results(name: str, summary: dict, rounds: dict[str, list[dict]]) -> None:
    """bench/results/NAME: the summary and every round (without its post ids); the
    summary printed."""
    detail = {
        kind: [{k: v for k, v in r.items() if k != "ids"} for r in rs]
        for kind, rs in rounds.items()
    }
    out = REPO / "bench" / "results" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**summary, "rounds_detail": detail}, indent=1, ensure_ascii=False))
    print(json.dumps(summary, indent=1))


def cleanup(ids: list[int]) -> None:
    settings = get_settings()
    with settings_session(settings) as session:
        session.execute(delete(Post).where(Post.id.in_(ids)))
    for post_id in ids:
        shutil.rmtree(post_folder(settings, post_id), ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--executor", choices=["local", "celery"], default="local")
    parser.add_argument("--gpu-workers", type=int, default=2)
    args = parser.parse_args()
    settings = get_settings()
    client = AirflowClient.from_settings(settings)
    client.wait_for_dag(PRODUCE_DAG)
    if args.executor == "celery":
        celery_bench(args, client)
        return
    rounds: dict[str, list[dict]] = {"airflow": [], "direct": []}
    try:
        for i in range(args.rounds):
            for kind in ("airflow", "direct") if i % 2 == 0 else ("direct", "airflow"):
                if kind == "airflow":
                    result = airflow_round(client, args.posts)
                else:
                    result = direct_round(args.posts)
                rounds[kind].append(result)
                print(kind, {k: v for k, v in result.items() if k != "ids"}, flush=True)
    finally:
        cleanup([i for rs in rounds.values() for r in rs for i in r["ids"]])

    def med(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in rounds[kind])

    a_wall, d_wall = med("airflow", "wall_s"), med("direct", "wall_s")
    a_work, a_task = med("airflow", "stage_work_s"), med("airflow", "task_time_s")
    a_busy = med("airflow", "busy_s")
    summary = {
        "posts_per_run": args.posts,
        "rounds": args.rounds,
        "llm_engine": settings.llm_engine,
        "tts_engine": settings.tts_engine,
        "airflow_posts_per_hour": round(args.posts * 3600 / a_wall, 1),
        "direct_posts_per_hour": round(args.posts * 3600 / d_wall, 1),
        "airflow_vs_direct_throughput": round(d_wall / a_wall, 3),
        "airflow_wall_s": a_wall,
        "direct_wall_s": d_wall,
        "airflow_share": {
            "stage_work": round(a_work / a_wall, 3),
            "in_tasks_outside_stages": round(max(a_task - a_work, 0) / a_wall, 3),
            "between_tasks": round(max(a_wall - a_busy, 0) / a_wall, 3),
        },
    }
    write_results("sweep.json", summary, rounds)


if __name__ == "__main__":
    main()
