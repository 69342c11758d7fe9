"""Benchmark: assigning new posts to stories against many stored ones, WaggleBot's MinHash
LSH index against the naive all-pairs comparison, side by side.

    .venv/bin/python bench/stories/run.py [--stored 100000] [--new 1000] [--naive 20] [--db]

Stored posts are synthetic Korean-looking texts of 150 to 600 syllables (unrelated to
each other, as most posts are); a quarter of the new posts are reposts of stored ones
(decorated: a marker in the title, emoji and laughter added, lines joined), the rest new.

- wagglebot: wagglebot.crawl.stories.StoryIndex.add per new post (normalise, 5-gram
  shingles, MinHash, LSH query, exact check of each candidate, insert).
- baseline: normalise and shingle the new post, then the exact Jaccard / containment
  check against every stored post's shingles (kept in memory: its best case), on
  --naive new posts, extrapolated per post.

- with --db, also the path the crawl really takes: the stored posts in a private MariaDB
  (started as the stack starts it; each with its story and its LSH bands in
  story_bands), the new posts inserted, then crawl.story_table.group_new_posts timed
  over all of them (band lookups, candidate texts, exact checks, writes, commits).

Both must find the same reposts on the posts both ran. Prints time per post (median and
95th percentile), the ratio, the index's build time and its memory, and
writes bench/results/stories.json. Memory: the process's resident size before and
after building the index.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import time
from pathlib import Path

import psutil

from wagglebot.crawl.stories import StoryIndex, normalise, shingles, signature, text_match

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results"
SYLLABLES = [chr(c) for c in range(0xAC00, 0xD7A4, 7)]  # a spread of Hangul syllables


def text(rng: random.Random) -> str:
    words = [
        "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4)))
        for _ in range(rng.randint(60, 220))
    ]
    return " ".join(words)


def decorated(rng: random.Random, title: str, body: str) -> tuple[str, str]:
    lines = body.split(" ")
    for _ in range(5):
        lines.insert(rng.randrange(len(lines)), rng.choice(["ㅋㅋㅋ", "😂", "ㅠㅠ"]))
    return f"[네이트판] {title}", " ".join(lines) + "\n출처 : 네이트판"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=1000)
    parser.add_argument("--naive", type=int, default=20, help="new posts the baseline runs")
    parser.add_argument("--db", action="store_true", help="also time the MariaDB path")
    args = parser.parse_args()
    rng = random.Random(20261206)
    stored = [(f"제목 {i} " + text(rng)[:20], text(rng)) for i in range(args.stored)]
    new = []
    for i in range(args.new):
        if i % 4 == 0:
            j = rng.randrange(args.stored)
            new.append((j, *decorated(rng, *stored[j])))
        else:
            new.append((None, f"새 글 {i}", text(rng)))

    rss = psutil.Process().memory_info().rss
    t0 = time.perf_counter()
    index = StoryIndex()
    for post_id, (title, body) in enumerate(stored):
        index.add(post_id, title, body)
    build_s = time.perf_counter() - t0
    index_mib = (psutil.Process().memory_info().rss - rss) / 2**20

    times, found = [], {}
    for k, (_origin, title, body) in enumerate(new):
        t = time.perf_counter()
        story = index.add(args.stored + k, title, body)
        times.append(time.perf_counter() - t)
        found[k] = story if story != args.stored + k else None
    wrong = [k for k, (origin, _, _) in enumerate(new) if found[k] != origin]

    stored_grams = [shingles(normalise(t, b)) for t, b in stored]
    stored_chars = [len(normalise(t, b)) for t, b in stored]
    naive_times = []
    for k, (origin, title, body) in enumerate(new[: args.naive]):
        t = time.perf_counter()
        norm = normalise(title, body)
        grams = shingles(norm)
        best = None
        for j, other in enumerate(stored_grams):
            if text_match(grams, other, len(norm), stored_chars[j]).same_story():
                best = j
        naive_times.append(time.perf_counter() - t)
        if best != origin:
            wrong.append(f"naive {k}")

    ours_ms = statistics.median(times) * 1000
    p95_ms = sorted(times)[int(len(times) * 0.95)] * 1000
    naive_ms = statistics.median(naive_times) * 1000
    result = {
        "stored": args.stored,
        "new": args.new,
        "reposts_among_new": sum(1 for o, _, _ in new if o is not None),
        "index_ms_per_post_median": round(ours_ms, 3),
        "index_ms_per_post_p95": round(p95_ms, 3),
        "naive_ms_per_post_median": round(naive_ms, 1),
        "speedup": round(naive_ms / ours_ms, 1),
        "index_build_s": round(build_s, 1),
        "index_memory_mib": round(index_mib, 1),
        "wrong": wrong,
    }
    if args.db:
        # The crawl holds no in-memory index: with its millions of objects alive, Python's
        # garbage collector would walk them all during the database run.
        del index, stored_grams
        gc.collect()
        result["database"] = database_run(stored, new)
        result["wrong"] += result["database"].pop("wrong")
        print(json.dumps(result["database"], indent=1), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "stories.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    if wrong:
        raise SystemExit(f"wrong assignments: {wrong[:10]}")


def database_run(stored: list[tuple[str, str]], new: list[tuple]) -> dict:
    """The stored posts in MariaDB with their stories and bands; group_new_posts timed over
    the new ones."""
    import shutil
    import sys
    import tempfile

    sys.path.insert(0, str(REPO / "tests"))
    from sqlalchemy import insert, select, update
    from wagglebot_stack import Stack

    from wagglebot.core.config import Settings
    from wagglebot.core.db import make_engine, session_factory
    from wagglebot.core.db.models import Post, Story, StoryBand
    from wagglebot.crawl.story_table import band_keys, group_new_posts

    from conftest import free_ports

    home = Path(tempfile.mkdtemp(prefix="wagglebot-bench-stories-"))
    url = f"mysql+mysqldb://bench:bench-pw@127.0.0.1:{free_ports()}/wagglebot_bench?charset=utf8mb4"
    settings = Settings(db_url=url, stack_home=home, media_root=home / "media", _env_file=None)
    stack = Stack(settings)
    try:
        stack.up(only=["mariadb"])
        engine = make_engine(url)
        t0 = time.perf_counter()
        with engine.begin() as conn:
            for first in range(0, len(stored), 5000):
                chunk = stored[first : first + 5000]
                conn.execute(insert(Story), [{"id": first + i + 1} for i in range(len(chunk))])
                conn.execute(
                    insert(Post),
                    [
                        {
                            "id": first + i + 1,
                            "story_id": first + i + 1,
                            "site_code": "nate_pann",
                            "origin_id": str(first + i),
                            "url": f"https://pann.nate.com/talk/{first + i}",
                            "title": title,
                            "content": body,
                            "images": [],
                        }
                        for i, (title, body) in enumerate(chunk)
                    ],
                )
                conn.execute(
                    insert(StoryBand),
                    [
                        {"band": band, "bucket": bucket, "post_id": first + i + 1}
                        for i, (title, body) in enumerate(chunk)
                        for band, bucket in band_keys(signature(shingles(normalise(title, body))))
                    ],
                )
            conn.execute(update(Story).values(main_post_id=Story.id))
        fill_s = time.perf_counter() - t0
        with engine.begin() as conn:
            conn.execute(
                insert(Post),
                [
                    {
                        "site_code": "theqoo",
                        "origin_id": str(k),
                        "url": f"https://theqoo.net/hot/{k}",
                        "title": title,
                        "content": body,
                        "images": [],
                    }
                    for k, (_, title, body) in enumerate(new)
                ],
            )
        with session_factory(engine)() as session:
            t = time.perf_counter()
            result = group_new_posts(session, settings)
            group_s = time.perf_counter() - t
            story_of = dict(
                session.execute(
                    select(Post.origin_id, Post.story_id).where(Post.site_code == "theqoo")
                ).all()
            )
        wrong = []
        for k, (origin, _, _) in enumerate(new):
            joined = story_of[str(k)] if story_of[str(k)] <= len(stored) else None
            if joined != (None if origin is None else origin + 1):
                wrong.append(f"database {k}")
        engine.dispose()
        return {
            "grouped": result.grouped,
            "joined": result.joined,
            "ms_per_post": round(group_s / len(new) * 1000, 3),
            "fill_s": round(fill_s, 1),
            "wrong": wrong,
        }
    finally:
        stack.down()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
