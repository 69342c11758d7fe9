"""Benchmark: posts parsed and stored per second over every bundled site, WaggleBot's crawl
against a plain sequential crawler, side by side.

    .venv/bin/python bench/crawl/run.py [--posts 120] [--rounds 3] [--sites theqoo dcinside]

Each site's sample pages are multiplied into a site of about --posts posts: clone k of
the pages has every post number shifted (list page p becomes page k*P+p, its posts,
comment answers, routes and robots.txt lines follow), so the pages keep each site's
own structure, encodings, deleted and malformed posts and XHR comment endpoints. Both
crawlers read the same sites from the local sample server, politeness off, into a
private MariaDB, and must store the same rows:

- wagglebot: `python -m wagglebot_scrapy.run SITE --impolite` per site (Scrapy,
  concurrent requests, batched upserts of posts and comments), the process timed whole.
- baseline: requests, one page at a time, the same parsers and comment requests
  (robots.txt obeyed too), one INSERT and commit per post and per comment: the way the
  peer projects crawl.

The server waits --latency-ms before each answer (50 by default: a round trip to a
Korean site from nearby; 0 measures the crawlers' own work alone). Rounds alternate
between the two; per-site and overall medians and the ratio are
printed and written to bench/results/crawl.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.robotparser import RobotFileParser

import requests
import yaml
from sqlalchemy import text
from w3lib.encoding import html_to_unicode

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from wagglebot_stack import Stack  # noqa: E402
from wagglebot_stack.sample_site import SampleSite  # noqa: E402

from wagglebot.core.db import make_engine  # noqa: E402
from wagglebot.crawl.extract import extract_list, extract_post, is_gone  # noqa: E402
from wagglebot.crawl.follow_up import (  # noqa: E402
    FollowUpError,
    comments_from_answer,
    follow_up_request,
)
from wagglebot.crawl.items import InvalidItem  # noqa: E402
from wagglebot.crawl.sites import (  # noqa: E402
    SAMPLE_ROOT,
    Site,
    get_site,
)
from wagglebot.crawl.sites import sample_site_codes as site_codes  # noqa: E402

from conftest import free_ports, make_settings  # noqa: E402
from crawl_support import EXPECTED_DIR  # noqa: E402


def _post_numbers(want: dict) -> list[str]:
    """The number in each listed post's id (the part that differs between posts)."""
    ids = [p["origin_id"] for p in want["posts"]] + [d["origin_id"] for d in want["dropped"]]
    return [re.findall(r"\d+", i)[-1] for i in ids]


def _answers(route: dict) -> list[dict]:
    return [route, *route.get("match", []), *([route["else"]] if "else" in route else [])]


def multiply(site: Site, source: Path, target: Path, posts: int) -> int:
    """Write ``source``'s pages as clones to ``target``; returns its number of list pages."""
    want = yaml.safe_load((EXPECTED_DIR / f"{site.site_code}.yaml").read_text(encoding="utf-8"))
    numbers = _post_numbers(want)
    clones = max(1, math.ceil(posts / len(want["posts"])))
    pages = len(want["list_rows"])
    first = site.list.first_page
    list_pages = {site.list.url.format(page=first + p): p for p in range(pages)}
    routes = yaml.safe_load((source / "routes.yaml").read_text(encoding="utf-8"))
    robots = (source / "robots.txt").read_text() if (source / "robots.txt").exists() else ""
    pattern = re.compile("|".join(sorted(numbers, key=len, reverse=True)))
    target.mkdir(parents=True)
    if (source / "images").exists():
        shutil.copytree(source / "images", target / "images")
    out: dict[str, dict] = {}
    shifts = [{n: str(int(n) + k * 10 ** len(n)) for n in numbers} for k in range(clones)]
    for k, shift in enumerate(shifts):

        def swap(value: str, shift: dict[str, str] = shift) -> str:
            return pattern.sub(lambda m: shift[m.group(0)], value)

        def copy(name: str, k: int = k, swap: Callable[[str], str] = swap) -> str:
            if name.startswith("images/"):
                return name
            clone = f"c{k}_{name.replace('/', '_')}"
            body = (source / name).read_bytes()  # ASCII digits: the same in EUC-KR
            (target / clone).write_bytes(swap(body.decode("latin-1")).encode("latin-1"))
            return clone

        for key, route in routes.items():
            cloned = json.loads(swap(json.dumps(route, ensure_ascii=False)))
            for old, new in zip(_answers(route), _answers(cloned), strict=True):
                if "file" in old:
                    new["file"] = copy(old["file"])
            if key in list_pages:
                key = site.list.url.format(page=first + k * pages + list_pages[key])
            out[swap(key)] = cloned
    (target / "routes.yaml").write_text(yaml.safe_dump(out, allow_unicode=True))
    if robots:  # a line naming a post stands for that post in every clone
        lines = []
        for line in robots.splitlines():
            named = pattern.search(line)
            lines += (
                [pattern.sub(lambda m, s=s: s[m.group(0)], line) for s in shifts]
                if named
                else [line]
            )
        (target / "robots.txt").write_text("\n".join(lines) + "\n")
    return clones * pages


def wagglebot_crawl(site: Site, base_url: str, pages: int, db_url: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAGGLE_")}
    env |= {"WAGGLE_DB_URL": db_url, "WAGGLE_ENV_FILE": "/dev/null"}
    argv = [sys.executable, "-m", "wagglebot_scrapy.run", site.site_code]
    argv += ["--base-url", base_url, "--pages", str(pages), "--impolite"]
    argv += ["-s", "LOG_LEVEL=WARNING", "-s", "CLOSESPIDER_PAGECOUNT=0"]
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(
            f"{site.site_code}: the crawl exited with {done.returncode}: {done.stderr[-3000:]}"
        )
    return elapsed


def _decoded(response: requests.Response, site: Site) -> str:
    if site.encoding:
        return response.content.decode(site.encoding, errors="replace")
    return html_to_unicode(response.headers.get("Content-Type"), response.content)[1]


def baseline_crawl(site: Site, base_url: str, pages: int, db_url: str) -> float:
    """One page at a time with requests, the same parsers, a commit per row."""
    engine = make_engine(db_url)
    session = requests.Session()
    t0 = time.perf_counter()
    robots = RobotFileParser()
    robots.parse(session.get(f"{base_url}/robots.txt", timeout=20).text.splitlines())
    seen: set[str] = set()
    with engine.connect() as conn:
        for page in range(site.list.first_page, site.list.first_page + pages):
            url = site.list_url(page, base_url)
            entries, _, _ = extract_list(site, _decoded(session.get(url, timeout=20), site), url)
            for entry in entries:
                if entry.origin_id in seen or not robots.can_fetch("*", entry.url):
                    continue
                seen.add(entry.origin_id)
                answer = session.get(entry.url, timeout=20)
                if answer.status_code != 200:
                    continue
                html = _decoded(answer, site)
                if is_gone(site, html):
                    continue
                item = extract_post(site, html, entry).item
                try:
                    item.validated()
                except InvalidItem:
                    continue
                if site.comments_request:
                    try:
                        ask = follow_up_request(site, html, entry.url, entry.origin_id)
                        got = session.request(
                            ask.method, ask.url, headers=ask.headers, data=ask.body, timeout=20
                        )
                        got.raise_for_status()
                        item.comments = comments_from_answer(site, _decoded(got, site))
                    except (FollowUpError, requests.HTTPError):
                        item.comments = []
                    item.validated()
                conn.execute(
                    text(
                        "INSERT INTO posts (site_code, origin_id, url, title, content, images,"
                        " views, likes, comment_count, posted_at)"
                        " VALUES (:s, :o, :u, :t, :c, :i, :v, :l, :n, :p)"
                        " ON DUPLICATE KEY UPDATE views = VALUES(views), likes = VALUES(likes)"
                    ),
                    {
                        "s": site.site_code,
                        "o": item.origin_id,
                        "u": item.url,
                        "t": item.title,
                        "c": item.content,
                        "i": json.dumps(item.images),
                        "v": item.views,
                        "l": item.likes,
                        "n": item.comment_count,
                        "p": item.posted_at,
                    },
                )
                conn.commit()
                post_id = conn.execute(
                    text("SELECT id FROM posts WHERE site_code = :s AND origin_id = :o"),
                    {"s": site.site_code, "o": item.origin_id},
                ).scalar_one()
                for comment in item.comments:
                    conn.execute(
                        text(
                            "INSERT INTO comments (post_id, comment_key, author, content,"
                            " content_hash, likes) VALUES (:p, :k, :a, :c, :h, :l)"
                            " ON DUPLICATE KEY UPDATE likes = VALUES(likes)"
                        ),
                        {
                            "p": post_id,
                            "k": comment.key,
                            "a": comment.author,
                            "c": comment.content,
                            "h": comment.content_hash,
                            "l": comment.likes,
                        },
                    )
                    conn.commit()
    elapsed = time.perf_counter() - t0
    engine.dispose()
    return elapsed


def _stored(engine, site_code: str) -> tuple[int, int]:
    with engine.connect() as conn:
        return (
            conn.execute(
                text("SELECT COUNT(*) FROM posts WHERE site_code = :s"), {"s": site_code}
            ).scalar_one(),
            conn.execute(
                text(
                    "SELECT COUNT(*) FROM comments c JOIN posts p ON p.id = c.post_id"
                    " WHERE p.site_code = :s"
                ),
                {"s": site_code},
            ).scalar_one(),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=120, help="about this many per site")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sites", nargs="*", default=site_codes())
    parser.add_argument(
        "--latency-ms", type=float, default=50, help="the server's delay per answer (a round trip)"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="wagglebot-bench-crawl-"))
    sites = {code: get_site(code) for code in args.sites}
    pages = {
        code: multiply(site, SAMPLE_ROOT / code, work / "site" / code, args.posts)
        for code, site in sites.items()
    }
    latency = args.latency_ms / 1000
    server = SampleSite(free_ports(len(sites)), work / "site", quiet=True, latency=latency).start()
    settings = make_settings(work / "stack", db_name="wagglebot_bench")
    stack = Stack(settings)
    stack.up(only=["mariadb"])  # as the stack runs it: under its own supervisord
    mariadb = stack.mariadb
    engine = make_engine(mariadb.db_url)
    crawlers = {"wagglebot": wagglebot_crawl, "baseline": baseline_crawl}
    seconds: dict[str, dict[str, list[float]]] = {n: {c: [] for c in sites} for n in crawlers}
    stored: dict[str, dict[str, tuple[int, int]]] = {n: {} for n in crawlers}
    try:
        for _ in range(args.rounds):
            for name, crawl in crawlers.items():
                with engine.begin() as conn:
                    conn.execute(text("DELETE FROM posts"))
                for code, site in sites.items():
                    url = server.urls[code]
                    seconds[name][code].append(crawl(site, url, pages[code], mariadb.db_url))
                    stored[name][code] = _stored(engine, code)
    finally:
        engine.dispose()
        stack.down()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    if stored["wagglebot"] != stored["baseline"]:
        raise SystemExit(f"the two crawls stored different rows: {stored}")
    posts = {code: stored["wagglebot"][code][0] for code in sites}
    comments = {code: stored["wagglebot"][code][1] for code in sites}
    medians = {n: {c: statistics.median(t) for c, t in by.items()} for n, by in seconds.items()}
    totals = {n: [sum(r) for r in zip(*by.values(), strict=True)] for n, by in seconds.items()}
    rate = {n: sum(posts.values()) / statistics.median(t) for n, t in totals.items()}
    result = {
        "posts": posts,
        "comments": comments,
        "rounds": args.rounds,
        "latency_ms": args.latency_ms,
        "seconds": seconds,
        "median_seconds": medians,
        "all_sites_median_seconds": {n: statistics.median(t) for n, t in totals.items()},
        "posts_per_second": rate,
        "ratio": rate["wagglebot"] / rate["baseline"],
        "ratio_by_site": {c: medians["baseline"][c] / medians["wagglebot"][c] for c in sites},
    }
    out = REPO / "bench" / "results" / "crawl.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(
        f"{len(sites)} sites, {sum(posts.values())} posts, {sum(comments.values())} comments, "
        f"{args.rounds} rounds each, politeness off, local server answering after "
        f"{args.latency_ms:g} ms"
    )
    print(f"  {'site':<11} {'posts':>5} {'wagglebot s':>11} {'baseline s':>10} {'ratio':>6}")
    for code in sites:
        w, b = medians["wagglebot"][code], medians["baseline"][code]
        print(f"  {code:<11} {posts[code]:>5} {w:>11.2f} {b:>10.2f} {b / w:>5.2f}x")
    for name in crawlers:
        times = ", ".join(f"{t:.2f}" for t in totals[name])
        print(f"  {name:<10} {rate[name]:7.1f} posts/s  (all sites; rounds {times})")
    print(f"  ratio      {result['ratio']:.2f}x  (wagglebot / baseline)")


if __name__ == "__main__":
    main()
