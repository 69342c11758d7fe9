"""A reviewer's whole day in a real browser: headless Chromium against the running stack.

The stack is started through the command line (`up --no-job`), the reviewer's
account made with `dashboard-user`, and then, in Debian's chromium driven by
Playwright: log in, approve a post and see it leave the inbox, read and edit its
script once Airflow has written it, watch it reach the gallery and play the
video. Screenshots are kept under test-artifacts/ (WAGGLE_TEST_ARTIFACTS).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import text

from wagglebot.core.db import make_engine
from wagglebot.core.post_files import media_path
from wagglebot.crawl.sites import sample_base_urls as base_urls
from wagglebot.crawl.sites import sample_site_codes as site_codes

from conftest import REPO, free_ports, make_settings
from stack_support import RunningStack, brought_up, stack_env, succeeded

ARTIFACTS = Path(os.environ.get("WAGGLE_TEST_ARTIFACTS", REPO / "test-artifacts"))
PASSWORD = "reviewer-password-e2e"
CHROMIUM_ARGS = [  # a closed network: no background fetches, no sandbox as root
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
STORY = (
    "퇴근길에 작은 고양이가 집 앞까지 따라왔어요. 배가 고파 보여서 참치를 조금 나눠줬습니다. "
    "다음 날 아침에도 문 앞에서 기다리고 있더라고요. 결국 이름을 지어주고 같이 살기로 했어요."
)
HOSTILE = '<img src="http://evil.example/x.png" onerror="alert(1)"> [눌러](javascript:alert(2))'
COFFEE = (  # another story than STORY, told on three communities
    "회사 탕비실에 둔 커피믹스가 매일 사라져서 CCTV를 확인해 봤어요. 범인은 옆 팀 팀장님이었고 "
    "다음 날 탕비실 문에 커피는 각자 사 드시라는 쪽지가 붙었습니다. 팀장님은 그 뒤로 매일 아침 "
    "커피를 한 박스씩 사 오십니다."
)
EDITED = (
    "퇴근길 고양이가 집까지 따라와 가족이 되었습니다. 이름은 참치예요. "
    "아침마다 문 앞에서 기다리는 모습이 귀여워서 이제는 모두가 좋아한대요. "
    "여러분도 이런 인연 있으신가요?"
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    home = tmp_path_factory.mktemp("e2e-stack")
    settings = make_settings(home, db_name="wagglebot_e2e").model_copy(
        update={
            "crawl_target": "sample",
            "sample_site_port": free_ports(len(site_codes())),
            # The hourly crawl Airflow starts on its own must not add posts while the
            # test counts them: its one site points at a port where nothing listens.
            "crawl_sites": ["nate_tok"],
            "crawl_base_urls": {"nate_tok": f"http://127.0.0.1:{free_ports()}"},
        }
    )
    env = stack_env(settings, home, [REPO / "dags"])
    env.pop("WAGGLE_DASHBOARD_USERS")  # as in a user's shell: accounts live in .env
    with brought_up(settings, env, "--no-job") as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _sql(stack: RunningStack, query: str, **params: object) -> list:
    engine = make_engine(stack.settings.db_url.get_secret_value())
    try:
        with engine.begin() as conn:
            result = conn.execute(text(query), params)
            return result.all() if result.returns_rows else []
    finally:
        engine.dispose()


def _wait(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(1)


def _status(stack: RunningStack, post_id: int) -> str:
    return _sql(stack, "SELECT status FROM posts WHERE id = :i", i=post_id)[0][0]


def _shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"dashboard-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_the_first_up_makes_a_reviewer_account_shown_once(stack: RunningStack) -> None:
    out = stack.up_output
    assert "login: reviewer / " in out
    shown = out.split("login: reviewer / ", 1)[1].split()[0]
    env_text = (stack.settings.stack_home / ".env").read_text()
    assert shown not in env_text  # only its hash is kept
    assert "WAGGLE_DASHBOARD_USERS=" in env_text


def test_a_reviewer_approves_edits_and_watches_a_post_become_a_short(
    stack: RunningStack, browser: Browser
) -> None:
    done = stack.cli("dashboard-user", "reviewer", "--password-stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "restarted the dashboard" in done.stdout
    own = base_urls(stack.settings.sample_site_port)["nate_pann"]  # served by the stack
    story_url = f"{own}/talk/900001"
    _sql(
        stack,
        "INSERT INTO posts (site_code, origin_id, url, title, content, images, likes) VALUES "
        "('nate_pann', 'e2e-1', :url, '퇴근길 고양이 입양 후기', :story, :pictures, 50), "
        "('e2e', '2', 'javascript:alert(3)', :hostile, :hostile, "
        "'[\"http://evil.example/y.png\"]', 1)",
        url=story_url,
        story=STORY,
        pictures=json.dumps([f"{own}/new/download.jsp?FileID=111", "http://evil.example/z.png"]),
        hostile=HOSTILE,
    )
    [(post_id,)] = _sql(stack, "SELECT id FROM posts WHERE origin_id = 'e2e-1'")
    [(hostile_id,)] = _sql(stack, "SELECT id FROM posts WHERE site_code = 'e2e'")
    crawled_hosts = {"evil.example", urlsplit(own).netloc}
    dialogs: list[str] = []
    requested: list[str] = []
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: requested.append(r.url))

    # Log in.
    page.goto(stack.dashboard)
    page.get_by_label("User name").fill("reviewer")
    page.get_by_role("textbox", name="Password").fill("not-it")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Wrong user name or password.")).to_be_visible()
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible(timeout=30_000)

    # Crawled markup is shown as the text it is, and does nothing. The title carries an
    # invisible word joiner that keeps its address from becoming a link.
    expect(page.get_by_text(HOSTILE.replace("://", ":\u2060//"), exact=True)).to_be_visible()
    title = page.get_by_text("퇴근길 고양이 입양 후기", exact=True)
    expect(title).to_be_visible()
    expect(page.get_by_text("Sort", exact=True)).to_be_visible()  # the filters are drawn
    expect(page.get_by_role("checkbox")).to_have_count(2)

    # Open both previews. The story's picture from its own site arrives as bytes the
    # dashboard serves; every other picture is a labelled placeholder.
    for pid in (post_id, hostile_id):
        page.locator(f".st-key-preview-{pid} summary").click()
    picture = page.locator(f".st-key-preview-{post_id} img")
    expect(picture).to_have_count(1, timeout=20_000)
    picture.evaluate(  # wait on the condition: the picture decoded in the page
        "img => img.decode()"
    )
    assert picture.evaluate("img => img.naturalWidth") > 0
    assert urlsplit(picture.get_attribute("src")).netloc in ("", urlsplit(stack.dashboard).netloc)
    refused = "Picture not shown: evil.example is not the post's own site or one of its CDNs"
    for pid in (post_id, hostile_id):
        expect(page.locator(f".st-key-preview-{pid}").get_by_text(refused)).to_be_visible()
    expect(page.get_by_text(HOSTILE, exact=True)).to_have_count(1)  # the body, as text
    # Nothing in the page points at a crawled host but the "Open the original" button.
    pointers = page.evaluate(
        """hosts => [...document.querySelectorAll('*')].flatMap(el =>
            [...el.attributes]
              .filter(a => hosts.some(h => a.value.includes(h)))
              .map(a => ({tag: el.tagName, attr: a.name, value: a.value,
                          text: el.innerText.trim()})))""",
        sorted(crawled_hosts),
    )
    assert pointers == [
        {"tag": "A", "attr": "href", "value": story_url, "text": "Open the original"}
    ]
    assert page.locator("iframe").count() == 0
    assert page.locator("a[href^='javascript']").count() == 0
    assert page.locator("a", has_text="evil.example").count() == 0  # no autolink either
    assert [u for u in requested if urlsplit(u).netloc in crawled_hosts] == []
    _shot(page, "inbox")

    # Approve the story: it leaves the inbox, and Airflow is asked for a sweep.
    page.locator(f".st-key-approve-{post_id} button").click()
    expect(page.get_by_text(f"Approved 1 post(s): {post_id}.")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("Airflow is on it: produce_shorts run")).to_be_visible()
    expect(title).to_have_count(0)
    _shot(page, "inbox-approved")
    runs = stack.client().request("GET", "/dags/produce_shorts/dagRuns")["dag_runs"]
    assert "1 post(s) approved by reviewer in the dashboard" in [r["note"] for r in runs]

    # The sweep writes the script and stops for the review; the reviewer edits it.
    _wait("the script", lambda: _status(stack, post_id) == "SCRIPTED", timeout=300)
    page.get_by_role("link", name="Scripts").click()
    box = page.locator(f".st-key-script-{post_id} textarea")
    expect(box).to_be_visible(timeout=20_000)
    assert "고양이" in box.input_value()
    box.fill(EDITED)
    box.press("Control+Enter")  # Streamlit applies a text area's edit on Ctrl+Enter or blur
    expect(page.get_by_text(f"{len(EDITED)} characters", exact=False)).to_be_visible()
    _shot(page, "scripts")
    page.locator(f".st-key-ok-{post_id} button").click()
    expect(page.get_by_text(f"Post {post_id}: script approved")).to_be_visible(timeout=20_000)

    # The next sweep voices the edit and renders it; the gallery plays it.
    _wait("the Short", lambda: _status(stack, post_id) == "RENDERED", timeout=400)
    page.get_by_role("link", name="Progress").click()
    expect(page.get_by_role("heading", name="Progress")).to_be_visible()
    page.get_by_role("link", name="Gallery").click()
    expect(page.get_by_text("퇴근길 고양이 입양 후기", exact=True)).to_be_visible(timeout=20_000)
    page.locator(f".st-key-play-{post_id} label").click()
    video = page.locator("video")
    expect(video).to_have_count(1, timeout=20_000)
    played = video.evaluate(  # waits on the condition (half a second played), not a clock
        """async v => {
            v.muted = true;
            await v.play();
            const deadline = Date.now() + 20000;
            while (v.currentTime <= 0.5 && !v.error && Date.now() < deadline)
                await new Promise(r => setTimeout(r, 100));
            const err = v.error && v.error.code;
            return {t: v.currentTime, w: v.videoWidth, h: v.videoHeight, err};
        }"""
    )
    _shot(page, "gallery")
    assert played["err"] is None
    assert (played["w"], played["h"]) == (1080, 1920)
    assert played["t"] > 0.5
    assert dialogs == []  # nothing crawled ever ran as script
    [(script, edited, reviewer, video_path)] = _sql(
        stack,
        "SELECT summary_text, script_edited, script_reviewed_by, video_path FROM contents "
        "WHERE post_id = :i",
        i=post_id,
    )
    assert (script, edited, reviewer) == (EDITED, 1, "reviewer")
    voice = json.loads((media_path(stack.settings, video_path).parent / "voice.json").read_text())
    assert "".join(c["text"] for c in voice["cues"]).replace(" ", "") == EDITED.replace(" ", "")


def test_up_says_how_things_stand_and_the_health_page_shows_every_check(
    stack: RunningStack, browser: Browser
) -> None:
    [line] = [ln for ln in stack.up_output.splitlines() if ln.startswith("health: ")]
    assert "crawled lately" in line
    assert "GiB free" in line
    # A fresh install has no backup until the backup DAG's first run, minutes after start.
    assert "no backup yet" in line or "last good backup" in line
    done = stack.cli("dashboard-user", "health-viewer", "--password-stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stdout + done.stderr
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(stack.dashboard)
    page.get_by_label("User name").fill("health-viewer")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # The banner on every page names what is amber (no backup yet, on a fresh install).
    expect(page.get_by_text("See the Health page.", exact=False)).to_be_visible(timeout=30_000)
    page.get_by_role("link", name="Health").click()
    expect(page.get_by_role("heading", name="Health", exact=True)).to_be_visible()
    grid = page.get_by_test_id("stDataFrame")
    expect(grid).to_be_visible()
    _shot(page, "health")
    names = {row["check"]: row for row in _health_rows(stack)}
    for running in ("airflow:scheduler", "airflow:dag_processor", "service:mariadb"):
        assert names[running]["level"] == "green", names[running]
    assert names["backup"]["level"] in ("amber", "green")
    page.close()


def _health_rows(stack: RunningStack) -> list[dict]:
    """What the Health page read, as the database remembers it."""
    rows = _sql(stack, "SELECT name, level, value FROM health_states")
    return [{"check": n, "level": lv, "value": v} for n, lv, v in rows]


def test_a_story_on_three_communities_is_one_inbox_card(
    stack: RunningStack, browser: Browser
) -> None:
    """Reposts stored before stories existed are grouped by `./wagglebot stories`, and the
    Inbox shows them as one card: the original leads, the reposts are "also on"."""
    base = base_urls(stack.settings.sample_site_port)
    posts = {
        "nate_pann": ("e2e-story-1", "탕비실 커피 도둑을 잡았습니다", COFFEE, 120),
        "theqoo": ("e2e-story-2", "[네이트판] 탕비실 커피 도둑을 잡았습니다", COFFEE, None),
        "fmkorea": ("e2e-story-3", "탕비실 커피 도둑 (펌)", COFFEE + "\n출처 : 네이트판", 870),
    }
    for site, (origin, title, body, likes) in posts.items():
        _sql(
            stack,
            "INSERT INTO posts (site_code, origin_id, url, title, content, images, likes, "
            "views, score) VALUES (:site, :origin, :url, :title, :body, :pictures, :likes, "
            "5000, :score)",
            site=site,
            origin=origin,
            url=f"{base[site]}/story/{origin}",
            title=title,
            body=body,
            # Not the first test's picture (FileID=111): a shared photo is one story too.
            pictures=json.dumps(
                [f"{base['nate_pann']}/new/download.jsp?FileID=112"] if site == "nate_pann" else []
            ),
            likes=likes,
            score=1.5 if likes else None,
        )
    done = stack.cli("stories")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "on several communities" in done.stdout
    ids = dict(_sql(stack, "SELECT origin_id, id FROM posts WHERE origin_id LIKE 'e2e-story-%'"))
    [(story, main, sites)] = _sql(
        stack,
        "SELECT s.id, s.main_post_id, s.sites FROM stories s JOIN posts p ON p.story_id = s.id "
        "WHERE p.id = :i",
        i=ids["e2e-story-1"],
    )
    assert (main, sites) == (ids["e2e-story-1"], 3)  # not a repost, and the most text

    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(stack.dashboard)
    page.get_by_label("User name").fill("reviewer")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    card = page.locator(f".st-key-story-{main}")
    expect(card).to_be_visible(timeout=30_000)
    expect(card.get_by_text("One story on 3 communities", exact=False)).to_be_visible()
    expect(card.get_by_text("also on:", exact=False)).to_be_visible()
    links = card.locator("a", has_text="추천").or_(card.locator("a", has_text="조회"))
    hrefs = sorted(a.get_attribute("href") for a in links.all())
    assert hrefs == sorted(f"{base[s]}/story/{posts[s][0]}" for s in ("theqoo", "fmkorea"))
    expect(card.locator("a", has_text="fmkorea (추천 870)")).to_be_visible()
    card.screenshot(path=str(ARTIFACTS / "inbox-story-card.png"))
    _shot(page, "inbox-story")

    # Decline declines the story: every member, and the card leaves the Inbox.
    card.locator(f".st-key-decline-{main} button").first.click()  # its help tooltip wraps it
    expect(card).to_have_count(0, timeout=20_000)
    statuses = {s for (s,) in _sql(stack, "SELECT status FROM posts WHERE story_id = :s", s=story)}
    assert statuses == {"DECLINED"}
    page.close()


def test_a_published_shorts_first_figures_reach_the_analytics_page(
    stack: RunningStack, browser: Browser
) -> None:
    """The Short the reviewer made goes to the (sample mode) fake YouTube; collect_stats
    reads its figures back; the Analytics and Published pages show them."""
    [(post_id,)] = _sql(stack, "SELECT id FROM posts WHERE origin_id = 'e2e-1'")
    client = stack.client()
    run = client.trigger("publish_shorts", {"post_ids": [post_id]})
    succeeded(client, "publish_shorts", run["dag_run_id"], timeout=300)
    for active in client.active_runs("collect_stats"):  # the one Airflow started on its own
        client.wait("collect_stats", active["dag_run_id"], timeout=300)
    run = client.trigger("collect_stats")
    succeeded(client, "collect_stats", run["dag_run_id"], timeout=300)
    [(views, days)] = _sql(
        stack,
        "SELECT SUM(source = 'totals' AND views > 0), SUM(source = 'day') FROM video_stats "
        "WHERE post_id = :i",
        i=post_id,
    )
    assert (views, days) == (1, 1)  # the fake of sample mode has today's Analytics day

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(stack.dashboard)
    page.get_by_label("User name").fill("reviewer")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Analytics").click()
    expect(page.get_by_role("heading", name="Analytics", exact=True)).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stMetricValue").first).to_have_text("1")
    expect(page.locator("canvas, svg.marks").first).to_be_visible(timeout=20_000)  # a chart
    expect(page.get_by_text("Top Shorts", exact=False)).to_be_visible()
    _shot(page, "analytics")
    page.get_by_role("link", name="Published").click()
    expect(page.get_by_text(" views · ", exact=False)).to_be_visible(timeout=20_000)
    page.close()
