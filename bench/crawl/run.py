"""Benchmark: posts parsed and stored per second, WaggleBot's crawl vs the old spec's way.

    .venv/bin/python bench/crawl/run.py [--posts 400] [--rounds 3]

Both crawl the same generated site (nate_pann's page structure, N posts on
list pages of 50) from the local sample server, politeness off, into a private
MariaDB, and must store the same rows:

- wagglebot: `python -m wagglebot_scrapy.run --impolite` (Scrapy, concurrent
  requests, batched upserts of posts and comments), the process timed whole.
- baseline: the old spec's style, as in the peer projects: requests +
  BeautifulSoup, one post at a time, one INSERT and commit per post and per comment.

Rounds alternate between the two; the medians and their ratio are printed and
written to bench/results/crawl.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urljoin

import requests
import yaml
from bs4 import BeautifulSoup
from sqlalchemy import text

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from wagglebot.crawl.sample_site import SampleSite  # noqa: E402
from wagglebot.db import make_engine  # noqa: E402
from wagglebot.stack.mariadb import MariaDB  # noqa: E402
from wagglebot.stack.procs import ProcessManager  # noqa: E402

from conftest import free_ports, make_settings  # noqa: E402

TEMPLATE = REPO / "sample_site" / "nate_pann"
PER_PAGE = 50


def build_site(root: Path, posts: int) -> int:
    """A nate_pann-shaped site with `posts` posts; returns the number of list pages."""
    site = root / "nate_pann"
    site.mkdir(parents=True)
    detail = (TEMPLATE / "post_375000001.html").read_text(encoding="utf-8")
    listing = (TEMPLATE / "list_1.html").read_text(encoding="utf-8")
    head, rest = listing.split('<ul class="post_wrap">', 1)
    row = re.search(r"<li>\s*<div class=\"rankNum\">.*?</li>", rest, re.S).group(0)
    tail = rest[rest.index("</ul>") :]
    routes, pages = {}, (posts + PER_PAGE - 1) // PER_PAGE
    for page in range(1, pages + 1):
        ids = range(800000000 + (page - 1) * PER_PAGE, 800000000 + min(page * PER_PAGE, posts))
        rows = "\n".join(row.replace("375000001", str(i)) for i in ids)
        (site / f"list_{page}.html").write_text(head + '<ul class="post_wrap">' + rows + tail)
        routes[f"/talk/ranking?page={page}"] = {"file": f"list_{page}.html"}
        for i in ids:
            body = detail.replace("375000001", str(i)).replace("74,428", f"{i % 100000:,}")
            body = body.replace("651000001", f"{i}1").replace("651000002", f"{i}2")
            (site / f"post_{i}.html").write_text(body, encoding="utf-8")
            routes[f"/talk/{i}"] = {"file": f"post_{i}.html"}
    (site / "routes.yaml").write_text(yaml.safe_dump(routes))
    return pages


def wagglebot_crawl(base_url: str, pages: int, db_url: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAGGLE_")}
    env |= {"WAGGLE_DB_URL": db_url, "WAGGLE_ENV_FILE": "/dev/null"}
    t0 = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "wagglebot_scrapy.run",
            "nate_pann",
            "--base-url",
            base_url,
            "--pages",
            str(pages),
            "--impolite",
            "-s",
            "LOG_LEVEL=WARNING",
            "-s",
            "CLOSESPIDER_PAGECOUNT=0",  # no per-run page limit for the benchmark
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return elapsed


def _count(node) -> int | None:
    digits = re.sub(r"[^\d]", "", node.get_text()) if node else ""
    return int(digits) if digits else None


def baseline_crawl(base_url: str, pages: int, db_url: str) -> float:
    """requests + BeautifulSoup, one post at a time, a row insert and commit per post."""
    engine = make_engine(db_url)
    session = requests.Session()
    t0 = time.perf_counter()
    with engine.connect() as conn:
        for page in range(1, pages + 1):
            list_url = f"{base_url}/talk/ranking?page={page}"
            soup = BeautifulSoup(session.get(list_url, timeout=20).text, "html.parser")
            for link in soup.select("div.cntList ul.post_wrap > li dl dt h2 a"):
                url = urljoin(list_url, link["href"])
                origin_id = re.search(r"/talk/(\d+)$", url).group(1)
                post = BeautifulSoup(session.get(url, timeout=20).text, "html.parser")
                title = post.select_one("div.post-tit-info h1").get_text(" ", strip=True)
                content = post.select_one("#contentArea").get_text("\n", strip=True)
                images = [
                    i["src"]
                    for i in post.select("#contentArea img")
                    if "nate.zza.kr" not in i["src"]
                ]
                conn.execute(
                    text(
                        "INSERT INTO posts (site_code, origin_id, url, title, content, images,"
                        " views, likes, comment_count)"
                        " VALUES ('nate_pann', :o, :u, :t, :c, :i, :v, :l, :n)"
                        " ON DUPLICATE KEY UPDATE views = VALUES(views), likes = VALUES(likes)"
                    ),
                    {
                        "o": origin_id,
                        "u": url,
                        "t": title,
                        "c": content,
                        "i": json.dumps(images),
                        "v": _count(post.select_one("div.post-tit-info .info span.count")),
                        "l": _count(post.select_one("div.btnbox.up span.count span")),
                        "n": _count(post.select_one("#bepleDiv .cmt_tit span.num strong")),
                    },
                )
                conn.commit()
                post_id = conn.execute(
                    text("SELECT id FROM posts WHERE site_code = 'nate_pann' AND origin_id = :o"),
                    {"o": origin_id},
                ).scalar_one()
                for c in post.select("#bepleDiv .cmt_best dl.cmt_item"):
                    key = "id:" + c.select_one("dd.n_good")["id"].removeprefix("R_cnt_")
                    conn.execute(
                        text(
                            "INSERT INTO comments (post_id, comment_key, author, content,"
                            " content_hash, likes) VALUES (:p, :k, :a, :c, '', :l)"
                            " ON DUPLICATE KEY UPDATE likes = VALUES(likes)"
                        ),
                        {
                            "p": post_id,
                            "k": key,
                            "a": c.select_one("span.nameui")["title"],
                            "c": c.select_one("dd.usertxt span").get_text("\n", strip=True),
                            "l": _count(c.select_one("dd.n_good")),
                        },
                    )
                    conn.commit()
    elapsed = time.perf_counter() - t0
    engine.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="wagglebot-bench-crawl-"))
    pages = build_site(work / "site", args.posts)
    server = SampleSite(free_ports(), work / "site", quiet=True).start()
    base_url = server.urls["nate_pann"]
    settings = make_settings(work / "stack", db_name="wagglebot_bench")
    mariadb = MariaDB(ProcessManager(settings.stack_home), settings.db_url.get_secret_value())
    mariadb.start()
    engine = make_engine(mariadb.db_url)
    runs: dict[str, list[float]] = {"wagglebot": [], "baseline": []}
    stored: dict[str, tuple[int, int]] = {}
    try:
        for _ in range(args.rounds):
            for name, crawl in (("wagglebot", wagglebot_crawl), ("baseline", baseline_crawl)):
                with engine.begin() as conn:
                    conn.execute(text("DELETE FROM posts"))
                runs[name].append(crawl(base_url, pages, mariadb.db_url))
                with engine.connect() as conn:
                    stored[name] = (
                        conn.execute(text("SELECT COUNT(*) FROM posts")).scalar_one(),
                        conn.execute(text("SELECT COUNT(*) FROM comments")).scalar_one(),
                    )
    finally:
        engine.dispose()
        mariadb.stop()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    if stored["wagglebot"] != stored["baseline"] or stored["wagglebot"][0] != args.posts:
        raise SystemExit(f"the two crawls stored different rows: {stored}")
    medians = {n: statistics.median(t) for n, t in runs.items()}
    rate = {n: args.posts / m for n, m in medians.items()}
    result = {
        "posts": args.posts,
        "comments": stored["wagglebot"][1],
        "rounds": args.rounds,
        "seconds": runs,
        "median_seconds": medians,
        "posts_per_second": rate,
        "ratio": rate["wagglebot"] / rate["baseline"],
    }
    out = REPO / "bench" / "results" / "crawl.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(
        f"{args.posts} posts, {stored['wagglebot'][1]} comments, {args.rounds} rounds each, "
        "politeness off, local server"
    )
    for name in runs:
        times = ", ".join(f"{t:.2f}" for t in runs[name])
        print(f"  {name:<10} {rate[name]:7.1f} posts/s  (median {medians[name]:.2f}s; {times})")
    print(f"  ratio      {result['ratio']:.2f}x  (wagglebot / baseline)")


if __name__ == "__main__":
    main()
