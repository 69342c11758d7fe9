"""Benchmark: time to render the inbox with 100,000 posts in the database.

    .venv/bin/python bench/dashboard/run.py [--posts 100000] [--rounds 5]

It starts a private MariaDB (the stack's own code, a temporary data directory),
fills it with ``--posts`` posts over five sites (90 % waiting in the inbox, bodies
of 300-900 characters, two comments each) and scores them per site. Then, side by
side, rounds alternating, it renders the inbox page through streamlit.testing
(the whole script run: queries and elements) for a set of views:

- wagglebot: dashboard/views/inbox.py behind its login, as a reviewer sees it.
- baseline: bench/dashboard/baseline_inbox.py, the inbox the old way (every post
  loaded, filtered, sorted and paged in Python, a query per shown post).

Reported per view: the median seconds of each, their ratio, and how much of
WaggleBot's time was spent waiting on MariaDB (the rest is Streamlit building
the page). Results go to bench/results/dashboard.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # free_ports, the tests' port picker

from sqlalchemy import event, insert, select, text  # noqa: E402
from wagglebot_stack import Stack  # noqa: E402

from wagglebot.core.config import Settings, get_settings  # noqa: E402
from wagglebot.core.db import default_engine, make_engine  # noqa: E402
from wagglebot.core.db.models import Comment, Post  # noqa: E402
from wagglebot.core.db.story_rows import refresh_story_rows  # noqa: E402
from wagglebot.crawl.store import refresh_scores  # noqa: E402
from wagglebot.review.auth import hash_password  # noqa: E402

from conftest import free_ports  # noqa: E402

SITES = {"nate_pann": 5000, "nate_tok": 800, "bobaedream": 300, "ruliweb": 1200, "ppomppu": 60}
WORDS = ("고양이", "회사", "팀장님", "커피", "퇴근길", "주말", "여행", "라면", "자동차")
WORDS += ("주차", "이웃", "선물", "시험", "이사")
VIEWS = {  # name -> (inbox filter widgets, baseline environment)
    # Every post its own story here: a story's popularity is its post's score.
    "popularity, page 1": ({}, {"WAGGLE_BENCH_SORT": "score"}),
    "newest, page 1": ({"f-sort": "newest"}, {}),
    "score, page 1": ({"f-sort": "score"}, {"WAGGLE_BENCH_SORT": "score"}),
    "likes, page 50": (
        {"f-sort": "likes", "page": 50},
        {"WAGGLE_BENCH_SORT": "likes", "WAGGLE_BENCH_PAGE": "50"},
    ),
    "one site, newest": (
        {"f-sites": ["ruliweb"], "f-sort": "newest"},
        {"WAGGLE_BENCH_SITE": "ruliweb"},
    ),
    "text search": ({"f-text": "탕비실", "f-sort": "newest"}, {"WAGGLE_BENCH_TEXT": "탕비실"}),
}
PASSWORD = "bench-password"


def fill(url: str, n: int) -> float:
    rng = random.Random(7)
    engine = make_engine(url)
    start = datetime(2026, 11, 1)
    t0 = time.monotonic()
    sites = list(SITES)
    with engine.begin() as conn:
        for first in range(0, n, 5000):
            posts = []
            for i in range(first, min(first + 5000, n)):
                site = sites[i % len(sites)]
                scale = SITES[site]
                body = " ".join(rng.choices(WORDS, k=rng.randint(60, 180)))
                if i % 997 == 0:
                    body += " 탕비실"
                posts.append(
                    {
                        "site_code": site,
                        "origin_id": str(i),
                        "url": f"https://example.kr/{site}/{i}",
                        "title": f"{rng.choice(WORDS)} {rng.choice(WORDS)} 이야기 {i}",
                        "content": body,
                        "images": [f"https://img.example.kr/{i}.jpg"] if i % 3 == 0 else [],
                        "views": int(rng.lognormvariate(0, 1) * scale * 20),
                        "likes": int(rng.lognormvariate(0, 1) * scale / 10),
                        "comment_count": rng.randint(0, 300),
                        "posted_at": start + timedelta(minutes=i),
                        "status": "COLLECTED"
                        if i % 10
                        else rng.choice(["APPROVED", "DECLINED", "RENDERED", "FAILED"]),
                    }
                )
            conn.execute(insert(Post), posts)
            ids = conn.execute(
                select(Post.id, Post.origin_id).where(
                    Post.origin_id.in_([p["origin_id"] for p in posts])
                )
            ).all()
            conn.execute(
                insert(Comment),
                [
                    {
                        "post_id": pid,
                        "comment_key": f"id:{k}",
                        "author": "댓글러",
                        "content": f"댓글 {k} {oid}",
                        "content_hash": f"{oid}-{k}",
                        "likes": rng.randint(0, 500),
                    }
                    for pid, oid in ids
                    for k in range(2)
                ],
            )
    from wagglebot.core.db import session_factory

    with engine.begin() as conn:  # each post its own story, as grouping leaves unrelated posts
        conn.execute(text("INSERT INTO stories (id, main_post_id) SELECT id, id FROM posts"))
        conn.execute(text("UPDATE posts SET story_id = id"))
    with session_factory(engine)() as session:
        for site in SITES:
            refresh_scores(session, site)
        refresh_story_rows(session, 0.5)
        session.commit()
    engine.dispose()
    return time.monotonic() - t0


def wagglebot_run(widgets: dict) -> float:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=300).run()
    at.text_input(key="login_name").input("bench")
    at.text_input(key="login_password").input(PASSWORD)
    at.button[0].click().run()
    for key, value in widgets.items():
        if key == "page":
            at.session_state["inbox-page"] = value
        elif key == "f-sites":
            at.multiselect(key=key).set_value(value)
        elif key == "f-text":
            at.text_input(key=key).set_value(value)
        else:
            at.selectbox(key=key).set_value(value)
    in_db = DatabaseClock(default_engine())
    t0 = time.monotonic()
    at.run()
    took = time.monotonic() - t0
    in_db.close()
    if at.exception or len([m for m in at.markdown if m.value.startswith("**")]) == 0:
        raise RuntimeError(f"the inbox rendered no post: {at.exception}")
    DB_SECONDS.append(in_db.seconds)
    return took


DB_SECONDS: list[float] = []  # per wagglebot run: the part spent waiting on MariaDB


class DatabaseClock:
    """Adds up the time an engine spends executing statements until closed."""

    def __init__(self, engine) -> None:
        self.engine, self.seconds, self._t0 = engine, 0.0, 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *args) -> None:
        self._t0 = time.perf_counter()

    def _after(self, *args) -> None:
        self.seconds += time.perf_counter() - self._t0

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)


def baseline_run(env: dict) -> float:
    from streamlit.testing.v1 import AppTest

    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        at = AppTest.from_file(
            str(REPO / "bench" / "dashboard" / "baseline_inbox.py"), default_timeout=600
        )
        t0 = time.monotonic()
        at.run()
        took = time.monotonic() - t0
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    if at.exception:
        raise RuntimeError(f"the baseline failed: {at.exception}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline-rounds", type=int, default=3)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="wagglebot-bench-dashboard-"))
    url = f"mysql+mysqldb://bench:bench-pw@127.0.0.1:{free_ports()}/wagglebot_bench?charset=utf8mb4"
    stack = Stack(Settings(db_url=url, stack_home=home, _env_file=None))
    try:
        stack.up(only=["mariadb"])  # as the stack runs it: under its own supervisord
        print(f"filling {args.posts:,} posts ...", flush=True)
        fill_s = fill(url, args.posts)
        print(f"  {fill_s:.0f} s", flush=True)
        os.environ.update(
            {
                "WAGGLE_DB_URL": url,
                "WAGGLE_DASHBOARD_USERS": json.dumps({"bench": hash_password(PASSWORD)}),
                "WAGGLE_MEDIA_ROOT": str(home / "media"),
            }
        )
        get_settings.cache_clear()
        results = {}
        for view, (widgets, env) in VIEWS.items():
            times: dict[str, list[float]] = {"wagglebot": [], "baseline": []}
            wagglebot_run(widgets)  # warm: the first run imports and connects
            for i in range(max(args.rounds, args.baseline_rounds)):
                order = ("wagglebot", "baseline") if i % 2 == 0 else ("baseline", "wagglebot")
                for kind in order:
                    if kind == "wagglebot" and i < args.rounds:
                        times[kind].append(wagglebot_run(widgets))
                    elif kind == "baseline" and i < args.baseline_rounds:
                        times[kind].append(baseline_run(env))
            med = {k: statistics.median(v) for k, v in times.items()}
            db = statistics.median(DB_SECONDS[-len(times["wagglebot"]) :])
            results[view] = {
                "wagglebot_s": round(med["wagglebot"], 4),
                "wagglebot_database_s": round(db, 4),
                "baseline_s": round(med["baseline"], 3),
                "ratio": round(med["baseline"] / med["wagglebot"], 1),
                "runs": times,
            }
            print(
                f"  {view:<18} wagglebot {med['wagglebot'] * 1000:5.0f} ms (database "
                f"{db * 1000:3.0f} ms)   baseline {med['baseline']:5.2f} s   "
                f"{results[view]['ratio']:5.1f}x",
                flush=True,
            )
        default_engine().dispose()
    finally:
        stack.down()
        shutil.rmtree(home, ignore_errors=True)
    out = REPO / "bench" / "results" / "dashboard.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"posts": args.posts, "fill_seconds": fill_s, "views": results}, indent=1)
    )


if __name__ == "__main__":
    main()
