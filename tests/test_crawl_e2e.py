"""Crawls as they really run: the runner in its own process, Scrapy over HTTP against the
sample site on loopback, rows in the real MariaDB."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from wagglebot_stack.mariadb import MariaDB
from wagglebot_stack.sample_site import SampleSite

from wagglebot.core.db.models import Comment, Post
from wagglebot.core.states import transition
from wagglebot.core.statuses import PostStatus
from wagglebot.crawl.sites import sample_site_codes as site_codes

from conftest import REPO, free_ports
from crawl_support import SAMPLE_DIR, SITES, expected, stored_posts


@dataclass
class Crawl:
    rc: int
    report: dict
    log: str
    seconds: float


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., SampleSite]]:
    """Start the sample site from a copy that a test may edit first."""
    started: list[SampleSite] = []

    def start(edit: Callable[[Path], None] | None = None) -> SampleSite:
        root = tmp_path / f"sample{len(started)}"
        shutil.copytree(SAMPLE_DIR, root)
        if edit:
            edit(root)
        site = SampleSite(free_ports(len(site_codes(root))), root).start()
        started.append(site)
        return site

    yield start
    for site in started:
        site.stop()


@pytest.fixture
def crawl(mariadb: MariaDB) -> Callable[..., Crawl]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAGGLE_")}
    env |= {"WAGGLE_DB_URL": mariadb.db_url, "WAGGLE_ENV_FILE": "/dev/null"}

    def run(site: SampleSite, site_code: str, *args: str, polite: bool = False) -> Crawl:
        argv = [
            sys.executable,
            "-m",
            "wagglebot_scrapy.run",
            site_code,
            "--base-url",
            site.urls[site_code],
            *args,
        ]
        if not polite:
            argv.append("--impolite")
        t0 = time.monotonic()
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=300, check=False, cwd=REPO
        )
        report = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}
        return Crawl(done.returncode, report, done.stderr, time.monotonic() - t0)

    return run


@pytest.mark.parametrize("site_code", SITES)
def test_a_crawl_stores_exactly_the_expected_rows(
    site_code: str,
    serve: Callable[..., SampleSite],
    crawl: Callable[..., Crawl],
    sessions: sessionmaker[Session],
) -> None:
    site = serve()
    want = expected(site_code, site.urls[site_code])
    result = crawl(site, site_code)
    assert result.rc == 0, result.log[-3000:]
    whys = [d["why"] for d in want["dropped"]]
    assert result.report["new"] == len(want["posts"])
    assert result.report["updated"] == 0
    gone = whys.count("http_404") + whys.count("gone")
    assert result.report["gone"] == gone
    assert result.report["robots_forbidden"] == whys.count("robots_txt")
    assert result.report["dropped"] == len(whys) - gone - whys.count("robots_txt")
    assert result.report["errors"] == 0
    assert result.report["likely_cause"] is None
    assert result.report["comments_unfetched"] == want.get("comments_unfetched", {})
    by_id = lambda post: post["origin_id"]  # noqa: E731 (arrival order is concurrency's)
    with sessions() as session:
        assert sorted(stored_posts(session, site_code), key=by_id) == sorted(
            want["posts"], key=by_id
        )


def test_a_recrawl_refreshes_counts_keeps_status_and_duplicates_nothing(
    serve: Callable[..., SampleSite],
    crawl: Callable[..., Crawl],
    sessions: sessionmaker[Session],
) -> None:
    site = serve()
    assert crawl(site, "nate_pann").rc == 0
    with sessions() as session:
        approved = session.scalar(select(Post.id).where(Post.origin_id == "375000001"))
        transition(session, approved, PostStatus.APPROVED)
        session.commit()
        before = (
            session.scalar(select(func.count(Post.id))),
            session.scalar(select(func.count(Comment.id))),
        )

    root = Path(site.servers["nate_pann"].site_dir)
    for name, old, new in [
        ("post_375000001.html", "74,428", "80,001"),  # approved: counts move, text stays
        ("post_375000001.html", "회사 탕비실 커피 때문에 생긴 일", "제목이 바뀐 글"),
        ("post_375000001.html", ">1432<", ">1500<"),  # a comment's likes
        ("post_375000002.html", "12,345", "13,000"),  # still collected: everything moves
        ("post_375000002.html", "강아지가 처음 눈을 봤어요", "강아지가 처음 눈을 본 날"),
    ]:
        page = root / name
        page.write_text(page.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")

    second = crawl(site, "nate_pann")
    assert second.rc == 0, second.log[-3000:]
    assert (second.report["new"], second.report["updated"]) == (0, 4)
    with sessions() as session:
        after = (
            session.scalar(select(func.count(Post.id))),
            session.scalar(select(func.count(Comment.id))),
        )
        assert after == before
        first = session.scalars(select(Post).where(Post.origin_id == "375000001")).one()
        assert (first.status, first.views) == (PostStatus.APPROVED, 80001)
        assert first.title == "회사 탕비실 커피 때문에 생긴 일"
        assert max(c.likes for c in first.comments) == 1500
        other = session.scalars(select(Post).where(Post.origin_id == "375000002")).one()
        assert (other.status, other.views) == (PostStatus.COLLECTED, 13000)
        assert other.title.startswith("강아지가 처음 눈을 본 날")


def _edit_yaml(path: Path, change: Callable[[dict], None]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def _answer_nate_tok_lists(root: Path, **answer: object) -> None:
    """nate_tok's list pages answer with ``answer`` (status, headers, file) instead."""
    _edit_yaml(
        root / "nate_tok" / "routes.yaml",
        lambda routes: [routes[k].update(answer) for k in routes if "ranking" in k],
    )


def test_a_changed_layout_fails_loudly_and_names_the_selector(
    serve: Callable[..., SampleSite],
    crawl: Callable[..., Crawl],
    sessions: sessionmaker[Session],
) -> None:
    def redesign(root: Path) -> None:
        for page in (root / "nate_pann").glob("list_*.html"):
            page.write_text(
                page.read_text(encoding="utf-8").replace("post_wrap", "post_list"), encoding="utf-8"
            )

    result = crawl(serve(redesign), "nate_pann")
    assert result.rc == 3
    assert result.report["likely_cause"] == (
        "layout changed: the list row selector 'div.cntList ul.post_wrap > li:not(.ad_banner)' "
        "matched nothing on 2 list page(s)"
    )
    assert "matched no rows" in result.log


def test_rows_without_a_post_link_are_named_as_the_list_layout_not_the_post_pages(
    serve: Callable[..., SampleSite], crawl: Callable[..., Crawl]
) -> None:
    """The rows still match, but the site moved its posts to a new address: no post page
    is ever asked for, and the report says which selector and pattern found no link."""

    def move(root: Path) -> None:
        for page in (root / "nate_pann").glob("list_*.html"):
            text = page.read_text(encoding="utf-8").replace('href="/talk/3', 'href="/talk/v2/3')
            page.write_text(text, encoding="utf-8")

    result = crawl(serve(move), "nate_pann")
    assert result.rc == 3
    assert result.report["list_rows"] > 0
    assert result.report["post_pages"] == 0
    assert result.report["likely_cause"] == (
        f"no post link in {result.report['list_rows']} list rows (selector dt a, pattern "
        "^/talk/(\\d+)$): the site's list layout changed; no post page was requested"
    )
    assert "no post link in" in result.log


def test_post_pages_that_all_come_back_empty_name_the_detail_selector(
    serve: Callable[..., SampleSite], crawl: Callable[..., Crawl]
) -> None:
    def redesign(root: Path) -> None:
        for page in (root / "nate_pann").glob("post_*.html"):
            text = page.read_text(encoding="utf-8").replace('id="contentArea"', 'id="postBody"')
            page.write_text(text, encoding="utf-8")

    result = crawl(serve(redesign), "nate_pann")
    pages = result.report["post_pages"] - result.report["gone"]
    assert pages > 0
    assert result.report["likely_cause"] == (
        f"{result.report['post_pages']} post pages loaded but none gave a post: the body "
        f"selector '#contentArea' found nothing on {pages} pages: the site's post page layout "
        "changed"
    )


def test_a_blocked_site_is_reported_as_blocked(
    serve: Callable[..., SampleSite],
    crawl: Callable[..., Crawl],
    sessions: sessionmaker[Session],
) -> None:
    def block(root: Path) -> None:
        _answer_nate_tok_lists(root, status=403)

    result = crawl(serve(block), "nate_tok")
    assert result.rc == 3
    assert result.report["likely_cause"] == "blocked or rate-limited by the site (HTTP 403 ×2)"


CHALLENGE = (
    "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
    "<script src='/cdn-cgi/challenge-platform/h/b/orchestrate/jsch/v1'></script></body></html>"
)


@pytest.mark.parametrize(
    ("answer", "cause"),
    [
        (
            {"file": "challenge.html"},  # served with HTTP 200: it must not read as a redesign
            "blocked by the site's bot defence: Cloudflare challenge page (HTTP 200) ×2",
        ),
        (
            {"status": 403, "headers": {"cf-mitigated": "challenge"}},
            "blocked by the site's bot defence: Cloudflare challenge (cf-mitigated: challenge) ×2",
        ),
        (
            {"status": 430},
            "blocked by the site's bot defence: HTTP 430 (request blocked by the site's CDN) ×2",
        ),
        (
            {"file": "redirect.html"},
            "blocked by the site's bot defence: JavaScript redirect page (to /login) ×2",
        ),
    ],
    ids=["cloudflare-200", "cloudflare-header", "http-430", "js-redirect"],
)
def test_a_bot_defence_is_reported_with_its_signal_not_as_a_layout_change(
    serve: Callable[..., SampleSite],
    crawl: Callable[..., Crawl],
    sessions: sessionmaker[Session],
    answer: dict,
    cause: str,
) -> None:
    def defend(root: Path) -> None:
        (root / "nate_tok" / "challenge.html").write_text(CHALLENGE)
        (root / "nate_tok" / "redirect.html").write_text(
            "<html><body><script>location.href='/login';</script></body></html>"
        )
        _answer_nate_tok_lists(root, **answer)

    result = crawl(serve(defend), "nate_tok")
    assert result.rc == 3, result.log[-2000:]
    assert result.report["likely_cause"] == cause
    assert "layout changed" not in result.log
    assert "blocked by the site on" in result.log


def test_a_retry_after_over_the_cap_ends_the_sites_run_with_a_note(
    serve: Callable[..., SampleSite],
    crawl: Callable[..., Crawl],
    sessions: sessionmaker[Session],
) -> None:
    def throttle(root: Path) -> None:
        _answer_nate_tok_lists(root, status=429, headers={"Retry-After": "3600"})

    site = serve(throttle)
    result = crawl(site, "nate_tok")
    assert result.rc == 3, result.log[-2000:]
    assert result.seconds < 60  # it did not wait the hour
    assert result.report["finish_reason"] == "retry_after_too_long"
    assert result.report["likely_cause"] == (
        "rate-limited: the site asked us to wait 3600s (Retry-After), more than the cap, so "
        "this site's run ended; the next scheduled crawl tries again"
    )
    assert re.search(r"asking to wait 3600s \(Retry-After\), more than the 120s cap", result.log)
    hits = site.hits("nate_tok")
    assert not [p for p in hits if p.startswith("/talk/376")]  # no post page asked after


def test_retry_after_is_honoured(
    serve: Callable[..., SampleSite],
    crawl: Callable[..., Crawl],
    sessions: sessionmaker[Session],
) -> None:
    def throttle(root: Path) -> None:
        def change(routes: dict) -> None:
            page = routes["/talk/ranking/best?page=1"]
            routes["/talk/ranking/best?page=1"] = {
                "sequence": [{"status": 429, "headers": {"Retry-After": "2"}}, page]
            }

        _edit_yaml(root / "nate_tok" / "routes.yaml", change)

    site = serve(throttle)
    result = crawl(site, "nate_tok")
    assert result.rc == 0, result.log[-3000:]
    assert result.report["new"] == 3
    assert site.hits("nate_tok")["/talk/ranking/best?page=1"] == 2
    assert re.search(r"HTTP 429 on \S+: waiting 2\.0s as Retry-After asks", result.log)
    assert result.seconds >= 2


def test_polite_by_default(
    serve: Callable[..., SampleSite],
    crawl: Callable[..., Crawl],
    sessions: sessionmaker[Session],
) -> None:
    site = serve()
    result = crawl(site, "nate_tok", polite=True)
    assert result.rc == 0, result.log[-3000:]
    # robots.txt, 2 list pages and 3 posts one at a time, at least 0.75 s apart
    # (DOWNLOAD_DELAY 1.5 randomised to 0.5-1.5x, AutoThrottle starting at 2 s).
    assert sum(site.hits("nate_tok").values()) == 5
    assert result.report["seconds"] >= 4 * 0.75
    [agent] = site.user_agents("nate_tok")
    assert agent.startswith("WaggleBot/0.1 (+https://")
