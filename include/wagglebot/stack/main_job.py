"""The main job `./wagglebot up` runs once the stack is up: crawl the communities through
Airflow (the bundled sample site on a fresh install) and say what came of it."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select

from wagglebot.airflow_api import AirflowClient
from wagglebot.config import Settings
from wagglebot.db import make_engine, session_scope
from wagglebot.db.models import Post

CRAWL_DAG = "crawl_communities"


def run_main_job(settings: Settings, say: Callable[[str], None]) -> bool:
    """Trigger one crawl and wait for it; True when every site's task succeeded."""
    client = AirflowClient.from_settings(settings)
    client.wait_for_dag(CRAWL_DAG)
    # A new DAG's first scheduled run starts as soon as it is parsed: follow that one
    # rather than queue a second crawl behind it.
    active = client.active_runs(CRAWL_DAG)
    run = active[0] if active else client.trigger(CRAWL_DAG, note="./wagglebot up: main job")
    run_id = run["dag_run_id"]
    say(f"crawling {settings.crawl_target} sites through Airflow: {CRAWL_DAG} run {run_id} ...")
    final = client.wait(CRAWL_DAG, run_id, timeout=900)
    ok = final["state"] == "success"
    for ti in client.task_instances(CRAWL_DAG, run_id):
        name = ti["rendered_map_index"] if ti["map_index"] >= 0 else ti["task_id"]
        if ti["state"] != "success":
            ok = False
            say(
                f"  {name:<11} {ti['state'].upper()}: see its log in the Airflow UI "
                f"({settings.airflow_api_url}/dags/{CRAWL_DAG}/runs/{run_id})"
            )
        elif ti["task_id"] == "crawl_site":
            f = client.xcom(CRAWL_DAG, run_id, "crawl_site", ti["map_index"])
            say(
                f"  {name:<11} {f['new'] + f['updated']:>3} posts stored ({f['new']} new, "
                f"{f['updated']} updated), {f['dropped']} dropped, {f['gone']} gone, "
                f"{f['errors']} errors ({f['seconds']}s)"
            )
    engine = make_engine(settings.db_url.get_secret_value())
    try:
        with session_scope(engine) as session:
            total = session.scalar(select(func.count(Post.id)))
    finally:
        engine.dispose()
    say(f"crawl {final['state']}: {total} posts in the database, waiting for review")
    return ok
