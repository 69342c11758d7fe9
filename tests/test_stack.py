"""The whole local stack through its command line, as a user runs it.

One stack for the module (MariaDB, the four Airflow processes, the dashboard),
in its own home and on its own ports. The tests run in file order: the last
one stops the stack and checks that nothing is left behind.
"""

from __future__ import annotations

import configparser
import hashlib
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import jwt
import psutil
import pytest
import requests
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest
from wagglebot_stack import Stack
from wagglebot_stack.procs import port_in_use

from wagglebot.core.config import get_settings
from wagglebot.core.db import engine_for, make_engine, settings_session
from wagglebot.core.post_files import media_path
from wagglebot.crawl.sites import sample_base_urls as base_urls
from wagglebot.ops.backup import finished_backups
from wagglebot.ops.supervision import log_tail
from wagglebot.orchestration.api import AirflowClient, AirflowError
from wagglebot.orchestration.api import health as airflow_health
from wagglebot.produce.stages.cards import place_cards
from wagglebot.produce.stages.clips import is_clip
from wagglebot.produce.stages.layout import CAPTIONS_TOP, DISSOLVE_S, LOOP_S, SAFE, Box
from wagglebot.produce.stages.render import image_spans, render_short, sits_above_captions
from wagglebot.produce.stages.subtitles import caption_events
from wagglebot.produce.stages.tts import Cue
from wagglebot.produce.tasks import post_cards
from wagglebot.publish.platforms import NAMES, PLATFORMS
from wagglebot.review.auth import hash_password

from alert_receiver import AlertReceiver
from conftest import REPO, free_ports, make_settings
from crawl_support import SITES, expected, stored_posts
from frames import caption_box, gray_frame, mean_difference, rgb_frame, share, where
from stack_support import RunningStack, brought_up, stack_env, stack_processes, succeeded

SERVICES = (
    "mariadb",
    "sample-site",
    "fake-youtube",
    "fake-tiktok",
    "fake-instagram",
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "dashboard",
    "metrics",
)
ARTIFACTS = Path(os.environ.get("WAGGLE_TEST_ARTIFACTS", REPO / "test-artifacts"))
LOG_MAX_BYTES = 64 * 1024  # small, so the logs rotate while the module runs
LOG_BACKUPS = 3
RECOVERY: dict[str, float] = {}  # seconds from kill -9 to answering again, by service


@pytest.fixture(scope="module")
def alerts() -> Iterator[AlertReceiver]:
    """Where the stack's alerts go (apprise json://), for the whole module."""
    receiver = AlertReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, alerts: AlertReceiver
) -> Iterator[RunningStack]:
    home = tmp_path_factory.mktemp("cli-stack")
    settings = make_settings(home, db_name="wagglebot_stack").model_copy(
        update={
            "alert_urls": SecretStr(alerts.url),
            "health_failures_red": 1,  # ruliweb's failed crawl turns a check red
            "crawl_target": "sample",
            "sample_site_port": free_ports(len(SITES)),
            # ruliweb points at a port where nothing listens: that site must fail
            # loudly while the others are collected.
            "crawl_base_urls": {"ruliweb": f"http://127.0.0.1:{free_ports()}"},
            "service_log_max_bytes": LOG_MAX_BYTES,
            "service_log_backups": LOG_BACKUPS,
            "service_start_retries": 3,  # a crash loop ends FATAL in seconds
        }
    )
    env = stack_env(settings, home, [REPO / "dags", REPO / "tests" / "airflow_dags"])
    # A task whose process died is failed (and retried) after this long without a heartbeat.
    env["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"] = "40"
    with brought_up(settings, env, returncode=1) as running:  # ruliweb failed, as arranged
        yield running


def test_up_prints_where_to_look(stack: RunningStack) -> None:
    out = stack.up_output
    assert f"Airflow UI   {stack.api}   login: admin / " in out
    assert f"Dashboard    http://127.0.0.1:{stack.settings.dashboard_port}" in out
    assert "dash-pw" not in out
    assert "t3st-pw" not in out


def test_status_reports_every_part_answering(stack: RunningStack) -> None:
    done = stack.cli("status")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = {ln.split()[0]: ln for ln in done.stdout.splitlines() if ln.strip()}
    for part in SERVICES:
        # supervisord's state, the pid, uptime, restarts, then what it offers
        assert re.match(
            rf"{part} +RUNNING  pid \d+, up \d\d:\d\d:\d\d, 0 restarts; ", lines[part]
        ), done.stdout
    assert f"serving {len(SITES)} sites" in lines["sample-site"]
    fake = f"sample mode: loopback stand-in for YouTube at http://127.0.0.1:{stack.settings.fake_youtube_port}/"
    assert lines["fake-youtube"].endswith(fake)
    assert "heartbeating" in lines["airflow-scheduler"]
    # LocalExecutor mode, unchanged: no broker, no PostgreSQL, no Celery workers.
    celery_parts = ("postgres", "redis", "airflow-worker")
    assert not [ln for ln in done.stdout.splitlines() if ln.startswith(celery_parts)]
    assert set(stack.programs()) == {*SERVICES, "alert-listener"}  # and supervisord's alerts
    assert (stack.settings.stack_home / "airflow" / "airflow.db").is_file()  # SQLite


def test_every_service_runs_under_supervisord(stack: RunningStack) -> None:
    """One supervisord, its programs its children; each restarts by itself, is stopped
    with its whole process group and logs to a file that rotates."""
    home = stack.settings.stack_home
    config = configparser.RawConfigParser()
    config.read(home / "supervisord.conf")
    supervisord = psutil.Process(int((home / "run" / "supervisord.pid").read_text()))
    for name in SERVICES:
        program = config[f"program:{name}"]
        assert program["autorestart"] == "true"
        assert int(program["startretries"]) >= 1
        assert program["killasgroup"] == "true"
        assert program["stdout_logfile"] == str(home / "log" / f"{name}.log")
        assert int(program["stdout_logfile_maxbytes"]) == LOG_MAX_BYTES
        assert psutil.Process(stack.pid(name)).ppid() == supervisord.pid
    # The scheduler drains its own workers on SIGTERM; the others get it as a group.
    assert config["program:airflow-scheduler"]["stopasgroup"] == "false"
    assert config["program:dashboard"]["stopasgroup"] == "true"


def test_starting_twice_is_harmless(stack: RunningStack) -> None:
    before = {name: state.pid for name, state in stack.programs().items()}
    t0 = time.monotonic()
    done = stack.cli("up", "--no-job")
    assert done.returncode == 0, done.stdout + done.stderr
    assert time.monotonic() - t0 < 30
    assert {name: state.pid for name, state in stack.programs().items()} == before


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


def test_up_groups_the_crawl_into_stories_and_one_is_on_four_communities(
    stack: RunningStack,
) -> None:
    """The sample's office-coffee story from nate_pann is reposted on theqoo (text edited),
    fmkorea (a screenshot: its picture alone) and ppomppu ("(펌)"): one story. The other
    office-coffee story on ppomppu, and the cats on a keyboard, stay stories of their own."""
    out = stack.up_output
    assert re.search(r"^  stories +\d+ posts grouped \(\d+ joined", out, re.M), out
    [line] = re.findall(r"^  one story on several communities: (.*)$", out, re.M)
    assert line.startswith("'회사 탕비실 커피 때문에 생긴 일' on "), line
    sites = [site for site, _ in re.findall(r"(\w+) #(\d+)", line)]
    assert sorted(sites) == ["fmkorea", "nate_pann", "ppomppu", "theqoo"], line
    engine = make_engine(stack.settings.db_url.get_secret_value())
    with engine.connect() as conn:
        stories = conn.execute(
            text("SELECT sites, members FROM stories WHERE members > 0 ORDER BY sites DESC")
        ).all()
        ungrouped = conn.scalar(text("SELECT count(*) FROM posts WHERE story_id IS NULL"))
    engine.dispose()
    assert stories[0] == (4, 4)
    assert all(sites == 1 for sites, _ in stories[1:])  # nothing else is one story
    assert ungrouped == 0


def _made_shorts(up_output: str) -> list[tuple[str, str]]:
    """(post id, video path) of each Short the main job lists as made."""
    return re.findall(r"^  post (\d+) +\w+ +RENDERED +[\d.]+s  (\S+/short\.mp4)$", up_output, re.M)


def test_up_approves_posts_and_makes_them_into_shorts(stack: RunningStack) -> None:
    out = stack.up_output
    assert re.search(r"^approved posts \[[\d, ]+\]; making Shorts through Airflow", out, re.M)
    # Script review is on by default: the first sweep writes, the main job approves as is.
    assert re.search(r"^scripts written for posts \[[\d, ]+\]; approved as they are", out, re.M)
    made = _made_shorts(out)
    assert len(made) == 3, out
    assert "3 of 3 Shorts made." in out
    media = stack.settings.media_root / "posts"
    for post_id, video in made:
        assert video == str(media / post_id / "short.mp4")
        probe = json.loads(
            subprocess.run(
                ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", video],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        picture = next(s for s in probe["streams"] if s["codec_type"] == "video")
        assert (picture["width"], picture["height"], picture["codec_name"]) == (1080, 1920, "h264")
        assert float(probe["format"]["duration"]) > 2
    engine = make_engine(stack.settings.db_url.get_secret_value())
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.status, c.script_engine, c.script_reviewed_by, c.video_path "
                "FROM posts p JOIN contents c ON c.post_id = p.id"
            )
        ).all()
    engine.dispose()
    # ... and the main job published them (the next test): made, then UPLOADED.
    # The contents row names the video relative to the media folder (as XCom does).
    stored = [("UPLOADED", "extractive", "main-job", f"posts/{pid}/short.mp4") for pid, _ in made]
    assert sorted(rows) == sorted(stored)


def test_every_sample_short_keeps_its_captions_off_its_pictures(
    stack: RunningStack, tmp_path: Path
) -> None:
    """Each caption page of each Short `up` made, against the picture on screen: below a
    picture that leaves room, no caption pixel on it; over one that fills the frame, on
    its box; never under a card. Where the picture is shows in a twin of the Short (the
    same voice, captions and cards; each still replaced by a flat magenta one of its
    size, so the same layout); the caption is measured in both, and must agree."""
    made = _made_shorts(stack.up_output)
    assert len(made) == 3
    pages_checked = 0
    for post_id, video in made:
        folder = Path(video).parent
        voice = json.loads((folder / "voice.json").read_text())
        cues = [Cue.from_dict(c) for c in voice["cues"]]
        duration = voice["duration"]
        pictures = sorted((folder / "pictures").iterdir())
        assert pictures, f"post {post_id} has no pictures"
        twins = []
        for n, picture in enumerate(pictures):
            if is_clip(picture):
                twins.append(picture)  # a clip fills the frame: its captions are boxed
                continue
            with Image.open(picture) as img:
                size = img.size
            twins.append(tmp_path / f"{post_id}-{n}.png")
            Image.new("RGB", size, (255, 0, 255)).save(twins[-1])
        with settings_session(stack.settings) as session:
            title, comments = post_cards(session, [int(post_id)])[int(post_id)]
        twin = tmp_path / f"{post_id}-twin.mp4"
        audio = media_path(stack.settings, voice["audio"])
        render_short(audio, duration, cues, twins, twin, title=title, comments=comments,
                     encoder_preference="libx264", loop=stack.settings.render_loop)  # fmt: skip
        (tmp_path / post_id).mkdir()
        cards = place_cards(title, comments, cues, duration, tmp_path / post_id)
        spans = image_spans(pictures, duration, cues)
        turns = [start for start, _ in spans[1:]] + [duration - 0.5]  # dissolves, the loop
        for start, end, _ in (page for cue in cues for page in caption_events(cue)):
            at = (start + end) / 2
            if end - start < 0.3 or any(abs(at - turn) < 0.35 for turn in turns):
                continue  # two pictures at once: each is checked on its own pages
            shown = next(p for p, (a, b) in zip(pictures, spans, strict=True) if a <= at < b)
            frame = rgb_frame(twin, at)
            left, top, right, bottom = caption_box(frame, spoken=True)
            assert top > 0, f"post {post_id}: no caption at {at:.2f}s"
            assert SAFE.x <= left
            assert right <= SAFE.right
            assert bottom < SAFE.bottom
            above = sits_above_captions(shown)
            if above:
                count, *_, picture_bottom = where(frame, (255, 0, 255), tolerance=40)
                assert count > 1000, f"post {post_id}: no picture at {at:.2f}s"
                assert top > picture_bottom + 10, (post_id, at, top, picture_bottom)
            else:  # on its translucent box
                inside = Box(left, top, right - left, bottom - top)
                assert share(gray_frame(twin, at), inside, lambda px: px < 110) > 0.3
            for card in cards:
                if card.start <= at < card.end:
                    assert card.box.bottom < top, (post_id, at, card.path.name)
            # The Short itself shows the very caption there (its rows; below a picture
            # that leaves room, its width too: nothing of the picture reaches that band).
            real = caption_box(rgb_frame(Path(video), at), top - 6, bottom + 7, spoken=True)
            assert real[1] <= top + 6, (post_id, at, real, top)
            assert abs(real[3] - bottom) <= 6, (post_id, at, real, bottom)
            if above:
                assert abs(real[0] - left) <= 6, (post_id, at, real, left)
                assert abs(real[2] - right) <= 6, (post_id, at, real, right)
            pages_checked += 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        at = (cues[1].start + cues[1].end) / 2
        Image.frombytes("RGB", (1080, 1920), rgb_frame(Path(video), at)).save(
            ARTIFACTS / f"sample-short-{post_id}-caption.png"
        )
    assert pages_checked >= 15


def test_every_sample_short_moves_dissolves_and_loops(stack: RunningStack) -> None:
    """On the Shorts `up` made: each picture moves while it is shown (compared between
    the cards and the captions' band, so a card coming or going does not count); at a
    turn the frame is both pictures at once; the last frame is the first one again."""
    made = _made_shorts(stack.up_output)
    dissolves = 0
    for post_id, name in made:
        video = Path(name)
        voice = json.loads((video.parent / "voice.json").read_text())
        duration = voice["duration"]
        cues = [Cue.from_dict(c) for c in voice["cues"]]
        spans = image_spans(sorted((video.parent / "pictures").iterdir()), duration, cues)
        for start, end in spans:
            early, late = start + DISSOLVE_S, end - DISSOLVE_S - LOOP_S
            moved = mean_difference(
                gray_frame(video, early), gray_frame(video, late), (760, CAPTIONS_TOP)
            )
            assert moved > 3, (post_id, start, moved)
        for turn, _ in spans[1:]:
            moments = (turn - DISSOLVE_S, turn, turn + DISSOLVE_S)
            before, during, after = (gray_frame(video, at) for at in moments)
            apart = mean_difference(before, after, (0, CAPTIONS_TOP))
            half = bytes((p + q) // 2 for p, q in zip(before, after, strict=True))
            assert mean_difference(during, half, (0, CAPTIONS_TOP)) < 0.35 * apart
            assert mean_difference(during, before, (0, CAPTIONS_TOP)) > 0.25 * apart
            assert mean_difference(during, after, (0, CAPTIONS_TOP)) > 0.25 * apart
            dissolves += 1
        first, last = gray_frame(video, 0), gray_frame(video, duration - 0.06)
        # The picture and its framing are the opening's; only the caption's words differ.
        assert mean_difference(first, last, (0, CAPTIONS_TOP)) < 2.0, post_id
        if post_id == made[0][0]:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            pair = Image.new("L", (2160, 1920))
            pair.paste(Image.frombytes("L", (1080, 1920), first), (0, 0))
            pair.paste(Image.frombytes("L", (1080, 1920), last), (1080, 0))
            pair.save(ARTIFACTS / f"sample-short-{post_id}-first-and-last.png")
    assert dissolves >= 1  # one of the sample Shorts has two pictures


def test_up_publishes_the_shorts_to_the_three_loopback_fakes(stack: RunningStack) -> None:
    out = stack.up_output
    ports = {p: getattr(stack.settings, f"fake_{p}_port") for p in PLATFORMS}
    fakes = {p: f"http://127.0.0.1:{port}/" for p, port in ports.items()}
    where = ", ".join(f"the loopback fake {NAMES[p]} at {fakes[p]}" for p in PLATFORMS)
    assert re.search(
        rf"^publishing posts \[[\d, ]+\] to {re.escape(where)}: publish_shorts run \S+ \.\.\.$",
        out,
        re.M,
    ), out
    lines = re.findall(r"^  post (\d+) +(YouTube|TikTok|Instagram) +published +(.+)$", out, re.M)
    assert len(lines) == 9, out
    # SELF_ONLY (an unaudited app's only choice) has no public address: said so.
    tiktok = {detail for _, platform, detail in lines if platform == "TikTok"}
    assert tiktok == {"no public address: only the account sees it, in the app"}
    assert "publish success: 9 of 9 uploads published" in out
    assert "SAMPLE MODE: YouTube, TikTok, Instagram here are WaggleBot's loopback stand-ins" in out
    received = {
        "youtube": requests.get(f"{fakes['youtube']}_fake/videos", timeout=10).json(),
        "tiktok": requests.get(f"{fakes['tiktok']}_fake/posts", timeout=10).json(),
        "instagram": requests.get(f"{fakes['instagram']}_fake/media", timeout=10).json(),
    }
    engine = make_engine(stack.settings.db_url.get_secret_value())
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT post_id, video_path, upload_meta FROM contents")).all()
        runs = conn.execute(
            text("SELECT dag_id, outcome, engine FROM stage_runs WHERE stage = 'upload'")
        ).all()
    engine.dispose()
    assert sorted(runs) == sorted([("publish_shorts", "succeeded", p) for p in PLATFORMS] * 3)
    assert {p: len(v) for p, v in received.items()} == dict.fromkeys(PLATFORMS, 3)
    for post_id, video_path, meta in rows:
        digest = hashlib.sha256(media_path(stack.settings, video_path).read_bytes()).hexdigest()
        meta = json.loads(meta)
        for platform in PLATFORMS:  # each platform got the very file the render made
            assert meta[platform]["video"] == "sent as rendered"
            assert digest in {v["sha256"] for v in received[platform]}, (post_id, platform)
        youtube = meta["youtube"]
        assert youtube["url"] == f"{fakes['youtube']}watch?v={youtube['id']}"
        assert youtube["privacy"] == "private"
        assert meta["tiktok"]["privacy"] == "SELF_ONLY"  # an unaudited app's only choice
        assert (str(post_id), "Instagram", meta["instagram"]["url"]) in lines
    page = requests.get(received["instagram"][0]["permalink"], timeout=10)
    assert "not Instagram" in page.text  # the fake says what it is
    client = stack.client()
    [run] = client.request("GET", "/dags/publish_shorts/dagRuns")["dag_runs"]
    uploads = client.task_instances("publish_shorts", run["dag_run_id"])
    mapped = {t["rendered_map_index"]: t for t in uploads if t["task_id"] == "upload"}
    assert set(mapped) == set(PLATFORMS)
    assert {(t["pool"], t["state"]) for t in mapped.values()} == {("default_pool", "success")}


def test_up_ends_with_the_published_shorts_first_figures(stack: RunningStack) -> None:
    out = stack.up_output
    assert re.search(r"^reading their first figures back: collect_stats run \S+ \.\.\.$", out, re.M)
    figures = re.findall(
        r"^  post (\d+) +([\d,]+) views +(\d+) likes +average view (\d+) %$", out, re.M
    )
    assert len(figures) == 3, out  # views now, and the fake's Analytics day (no lag here)
    assert all(int(views.replace(",", "")) > 0 for _, views, _, _ in figures)
    assert "collect_stats success: figures for 3 of 3 Shorts" in out
    assert "/analytics)" in out
    engine = make_engine(stack.settings.db_url.get_secret_value())
    with engine.connect() as conn:
        read = conn.execute(
            text("SELECT source, COUNT(DISTINCT post_id) FROM video_stats GROUP BY source")
        ).all()
    engine.dispose()
    assert dict(read) == {"totals": 3, "day": 3}


def _sweep_runs(client: AirflowClient) -> list[dict]:
    return client.request("GET", "/dags/produce_shorts/dagRuns")["dag_runs"]


def test_the_sweep_ran_its_stages_one_at_a_time_and_passed_paths(stack: RunningStack) -> None:
    client = stack.client()
    runs = {r["note"]: r for r in _sweep_runs(client)}
    first, run = (
        runs["./wagglebot up: main job"],
        runs["./wagglebot up: main job, scripts approved"],
    )
    # The first sweep wrote the scripts and stopped for the review; the second voiced and
    # rendered the approved scripts without writing them again.
    assert first["state"] == "success"
    assert client.xcom("produce_shorts", first["dag_run_id"], "write_scripts") == {}
    held = client.xcom("produce_shorts", first["dag_run_id"], "finish")
    assert (held["rendered"], held["failed"]) == ([], [])
    engine = make_engine(stack.settings.db_url.get_secret_value())
    with engine.connect() as conn:
        stages = conn.execute(
            text(
                "SELECT run_id, stage, COUNT(*) FROM stage_runs WHERE run_id IN (:a, :b) "
                "AND outcome = 'succeeded' GROUP BY run_id, stage"
            ),
            {"a": first["dag_run_id"], "b": run["dag_run_id"]},
        ).all()
    engine.dispose()
    one, two = first["dag_run_id"], run["dag_run_id"]
    assert sorted(stages) == sorted([(one, "llm", 3), (two, "tts", 3), (two, "render", 3)])
    # The second voiced and rendered the approved scripts.
    assert run["state"] == "success"
    tis = client.task_instances("produce_shorts", run["dag_run_id"])
    assert {t["task_id"]: t["state"] for t in tis} == dict.fromkeys(
        ("claim", "write_scripts", "gather_pictures", "speak", "render", "finish"), "success"
    )
    gpu = sorted(
        (
            datetime.fromisoformat(t["start_date"]),
            datetime.fromisoformat(t["end_date"]),
            t["task_id"],
        )
        for t in tis
        if t["pool"] == "gpu"
    )
    assert [name for _, _, name in gpu] == ["write_scripts", "speak", "render"]
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(gpu)), gpu
    for task_id, name in (("write_scripts", "script.json"), ("speak", "voice.json")):
        paths = client.xcom("produce_shorts", run["dag_run_id"], task_id)
        assert len(paths) == 3
        assert all(p.endswith(f"/{pid}/{name}") for pid, p in paths.items())
    finished = client.xcom("produce_shorts", run["dag_run_id"], "finish")
    assert len(finished["rendered"]) == 3
    assert finished["failed"] == []


def _crawl_runs(client: AirflowClient) -> list[dict]:
    return client.request("GET", "/dags/crawl_communities/dagRuns")["dag_runs"]


def test_the_crawl_filled_the_database(stack: RunningStack) -> None:
    """Every sample site's posts, comments (those that come by XHR too) and counts, as a
    correct parse gives them, stored through the scheduler's run."""
    engine = make_engine(stack.settings.db_url.get_secret_value())
    urls = base_urls(stack.settings.sample_site_port)
    by_id = lambda post: post["origin_id"]  # noqa: E731
    with Session(engine) as session:
        crawled = {s: sorted(stored_posts(session, s), key=by_id) for s in SITES}
    engine.dispose()
    for site in SITES:
        want = [] if site == "ruliweb" else expected(site, urls[site])["posts"]
        assert crawled[site] == sorted(want, key=by_id), site


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


def test_a_failed_task_and_a_red_check_reach_the_owner(
    stack: RunningStack, alerts: AlertReceiver
) -> None:
    """Through Airflow's apprise notifier and the connection the stack gives Airflow."""
    failed = _alert(alerts, "WaggleBot: crawl_communities.crawl_site[ruliweb] failed")
    body = failed["message"]
    assert "Error: CrawlFailed: ruliweb: the crawl stored no post." in body
    assert f"Log: {stack.settings.airflow_ui_url}/dags/crawl_communities/runs/" in body
    assert "/tasks/crawl_site/mapped/" in body
    # watch_health runs every 10 minutes; asked now, it finds one failure, which is red
    # here (WAGGLE_HEALTH_FAILURES_RED=1): ruliweb's crawl.
    client = stack.client()
    run = client.trigger("watch_health", note="test: a red check")
    assert client.wait("watch_health", run["dag_run_id"], timeout=180)["state"] == "success"
    health = _alert(alerts, "WaggleBot: ", containing="- failures: ")
    assert "crawl(s) failed in 24 h (amber from 1, red from 1)." in health["message"]
    assert health["type"] == "failure"
    secrets = [stack.settings.db_url.get_secret_value().split(":")[2].split("@")[0]]
    for message in alerts.messages():
        assert not any(secret in json.dumps(message) for secret in secrets)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)  # the alerts as the owner received them
    (ARTIFACTS / "alerts-received.json").write_text(
        json.dumps(alerts.messages(), ensure_ascii=False, indent=1), encoding="utf-8"
    )
    records = _sql_rows(stack, "SELECT site_code, ok FROM crawl_runs")
    assert ("ruliweb", 0) in records  # every crawl's outcome is kept for the health checks
    assert ("fmkorea", 1) in records


def test_prometheus_metrics_are_served_on_loopback(stack: RunningStack) -> None:
    answer = requests.get(f"http://127.0.0.1:{stack.settings.metrics_port}/metrics", timeout=10)
    assert answer.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    assert families["wagglebot_db_up"].samples[0].value == 1
    assert sum(s.value for s in families["wagglebot_posts"].samples) > 0
    crawls = families["wagglebot_site_last_crawl_timestamp_seconds"].samples
    assert {"site": "ruliweb", "outcome": "failed"} in [s.labels for s in crawls]
    assert {"site": "fmkorea", "outcome": "ok"} in [s.labels for s in crawls]
    assert "wagglebot_stage_duration_seconds" in families
    assert "wagglebot_disk_free_bytes" in families


def test_a_backup_from_the_command_line_and_no_restore_into_a_running_stack(
    stack: RunningStack,
) -> None:
    before = {b.path for b in finished_backups(stack.settings.backup_dir)}  # the DAG's, if any
    done = stack.cli("backup")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "backup: database dumped" in done.stdout
    [taken] = [b for b in finished_backups(stack.settings.backup_dir) if b.path not in before]
    assert f"backup: {taken.path} (" in done.stdout
    assert taken.manifest["rows"]["posts"] > 0
    assert "airflow-fernet_key" in taken.manifest["secrets"]  # (this stack keeps no .env)
    refused = stack.cli("restore", str(taken.path))
    assert refused.returncode == 1
    assert "stop the stack first (./wagglebot down): airflow-api-server" in refused.stderr
    assert stack.programs()["airflow-scheduler"].running  # nothing was touched


def _alert(alerts: AlertReceiver, title: str, containing: str = "", timeout: float = 180) -> dict:
    """The first message whose title starts with ``title`` (and holds ``containing``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in alerts.messages():
            if message["title"].startswith(title) and containing in message["message"]:
                return message
        time.sleep(1)
    raise AssertionError(f"no alert {title!r} ({containing!r}): {alerts.messages()}")


def _sql_rows(stack: RunningStack, query: str) -> list[tuple]:
    engine = make_engine(stack.settings.db_url.get_secret_value())
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(query))]
    finally:
        engine.dispose()


def test_the_dashboard_account_is_a_user_and_a_stale_token_is_renewed(
    stack: RunningStack,
) -> None:
    client = stack.client()
    client.wait_for_dag("produce_shorts")
    fresh = stack.token("dashboard", "dash-pw")
    claims = jwt.decode(fresh, options={"verify_signature": False})
    secret = (stack.settings.stack_home / "airflow" / "jwt_secret").read_text().strip()
    expired = jwt.encode(
        {**claims, "exp": int(time.time()) - 60}, secret, algorithm="HS512"
    )  # what a day-old token looks like: the API answers 401 "Token Expired"
    resigned = fresh[:-8] + "AAAAAAAA"  # the API's key changed: 403 "Invalid JWT token"
    for stale in (expired, resigned):
        client._token = stale
        assert client.request("GET", "/dags/produce_shorts")["dag_id"] == "produce_shorts"
        assert client._token not in (stale, None)  # it logged in again
    headers = {"Authorization": f"Bearer {client._token}"}
    resp = requests.post(
        f"{stack.api}/api/v2/pools", headers=headers, json={"name": "x", "slots": 9}, timeout=10
    )
    assert resp.status_code == 403  # a user may trigger runs, not change pools
    with pytest.raises(AirflowError, match="HTTP 403"):
        AirflowClient(stack.api, "dashboard", "dash-pw").request(
            "POST", "/pools", json={"name": "x", "slots": 9}
        )  # a refusal that is not about the token is not retried


def test_params_are_checked_by_the_trigger(stack: RunningStack) -> None:
    client = stack.client()
    for bad in (
        {"sites": ["nope"]},
        {"pages": 0},
        {"pages": "two"},
        {"site_pages": {"nope": 1}},
        {"site_pages": {"theqoo": 0}},
    ):
        with pytest.raises(AirflowError, match="HTTP 400"):
            client.trigger("crawl_communities", conf=bad)


def test_a_manual_crawl_of_one_site_and_page(stack: RunningStack) -> None:
    client = stack.client()
    for active in client.active_runs("crawl_communities"):  # the hourly run may be going
        client.wait("crawl_communities", active["dag_run_id"], timeout=300)
    # The page limit by site wins over the one for every site.
    conf = {"sites": ["nate_tok"], "pages": 2, "site_pages": {"nate_tok": 1}}
    run = client.trigger("crawl_communities", conf=conf)
    succeeded(client, "crawl_communities", run["dag_run_id"], timeout=300)
    mapped = [
        ti
        for ti in client.task_instances("crawl_communities", run["dag_run_id"])
        if ti["task_id"] == "crawl_site"
    ]
    assert [ti["rendered_map_index"] for ti in mapped] == ["nate_tok"]
    figures = client.xcom("crawl_communities", run["dag_run_id"], "crawl_site", 0)
    assert (figures["list_pages"], figures["new"], figures["updated"]) == (1, 0, 2)


def test_a_post_that_fails_a_stage_shows_its_error_and_the_rest_go_on(
    stack: RunningStack,
) -> None:
    engine = make_engine(stack.settings.db_url.get_secret_value())
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO posts (site_code, origin_id, url, title, content, images, status) "
                "VALUES ('manual', 'junk-1', 'http://x/junk', '😀😀😀', '', '[]', 'APPROVED')"
            )
        )
        junk = conn.execute(text("SELECT id FROM posts WHERE origin_id = 'junk-1'")).scalar()
        good = conn.execute(
            text(  # the longest: enough for a Short (a thin one waits for a person)
                "SELECT id FROM posts WHERE status = 'COLLECTED' "
                "ORDER BY CHAR_LENGTH(title) + CHAR_LENGTH(content) DESC, id LIMIT 1"
            )
        ).scalar()
        conn.execute(text("UPDATE posts SET status = 'APPROVED' WHERE id = :i"), {"i": good})
    client = stack.client()
    for active in client.active_runs("produce_shorts"):
        client.wait("produce_shorts", active["dag_run_id"], timeout=300)
    run = client.trigger("produce_shorts", conf={"batch": 5, "review_scripts": False})
    succeeded(client, "produce_shorts", run["dag_run_id"], timeout=400)
    with engine.connect() as conn:
        status = dict(
            conn.execute(
                text(
                    "SELECT id, CONCAT(status, ' ', COALESCE(last_error, '')) FROM posts "
                    "WHERE id IN (:a, :b)"
                ),
                {"a": junk, "b": good},
            ).all()
        )
    engine.dispose()
    assert status[good] == "RENDERED "
    assert status[junk].startswith("FAILED llm (attempt 1): InvalidScript: length:")
    log = json.dumps(
        client.request(
            "GET",
            f"/dags/produce_shorts/dagRuns/{run['dag_run_id']}/taskInstances/write_scripts/logs/1",
        ),
        ensure_ascii=False,
    )
    assert f"post {junk}: llm failed: InvalidScript: length" in log


def _approve_one(stack: RunningStack) -> int:
    engine = make_engine(stack.settings.db_url.get_secret_value())
    with engine.begin() as conn:
        post_id = conn.execute(
            text(  # the longest: enough for a Short (a thin one waits for a person)
                "SELECT id FROM posts WHERE status = 'COLLECTED' "
                "ORDER BY CHAR_LENGTH(title) + CHAR_LENGTH(content) DESC, id LIMIT 1"
            )
        ).scalar()
        conn.execute(text("UPDATE posts SET status = 'APPROVED' WHERE id = :i"), {"i": post_id})
    engine.dispose()
    return post_id


def test_a_task_killed_mid_render_is_retried_and_the_post_still_made(
    stack: RunningStack,
) -> None:
    post_id, run_id, victim = _render_under_way(stack)
    victim.kill()  # SIGKILL: no chance to report anything
    _assert_made_on_the_second_try(stack, post_id, run_id)


def _render_under_way(stack: RunningStack) -> tuple[int, str, psutil.Process]:
    """Approve a post, sweep it, and wait until its render runs; returns the post, the
    run and the task process running the render."""
    client = stack.client()
    # A scheduled sweep under way would take the post (and stop it for script review):
    # let it end before the post is approved.
    for active in client.active_runs("produce_shorts"):
        client.wait("produce_shorts", active["dag_run_id"], timeout=300)
    post_id = _approve_one(stack)
    run = client.trigger("produce_shorts", conf={"batch": 1, "review_scripts": False})
    folder = str(stack.settings.media_root / "posts" / str(post_id))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        for proc in psutil.process_iter(["name", "cmdline"]):
            cmd = " ".join(proc.info["cmdline"] or [])
            if proc.info["name"] == "ffmpeg" and folder in cmd and "-progress" in cmd:
                return post_id, run["dag_run_id"], proc.parent()  # the render's task process
        time.sleep(0.2)
    raise AssertionError("the render never started")


def _assert_made_on_the_second_try(stack: RunningStack, post_id: int, run_id: str) -> None:
    client = stack.client()
    succeeded(client, "produce_shorts", run_id, timeout=400)
    render = next(
        t for t in client.task_instances("produce_shorts", run_id) if t["task_id"] == "render"
    )
    assert render["try_number"] == 2
    engine = make_engine(stack.settings.db_url.get_secret_value())
    with engine.connect() as conn:
        status = conn.execute(text("SELECT status FROM posts WHERE id = :i"), {"i": post_id})
        attempts = conn.execute(
            text(
                "SELECT attempt, outcome, COALESCE(error, '') FROM stage_runs "
                "WHERE post_id = :i AND stage = 'render' ORDER BY attempt"
            ),
            {"i": post_id},
        ).all()
        assert status.scalar() == "RENDERED"
    engine.dispose()
    assert [(a, o) for a, o, _ in attempts] == [(1, "failed"), (2, "succeeded")]
    assert attempts[0][2].startswith("abandoned")


# -- unattended: crashes heal, a crash loop is reported, nothing outlives `down` -----------


def _heartbeat_after(part: str) -> Callable[[RunningStack, datetime], bool]:
    """The component heartbeated after the kill: the new process, not the dead one."""

    def beat(stack: RunningStack, killed_at: datetime) -> bool:
        key = f"latest_{part}_heartbeat"
        when = airflow_health(stack.api).get(part, {}).get(key)
        return bool(when) and datetime.fromisoformat(when) > killed_at

    return beat


def _service_answers(name: str) -> Callable[[RunningStack, datetime], bool]:
    return lambda stack, _killed_at: Stack(stack.settings).service(name).answers()


ANSWERS = {
    **{name: _service_answers(name) for name in SERVICES},
    "airflow-scheduler": _heartbeat_after("scheduler"),
    "airflow-dag-processor": _heartbeat_after("dag_processor"),
    "airflow-triggerer": _heartbeat_after("triggerer"),
}


def _kill_and_time(stack: RunningStack, name: str) -> float:
    """SIGKILL the service's main process; seconds until a new one runs and answers. Its
    children die with it: none is left to hold a port or run a task unseen."""
    main = psutil.Process(stack.pid(name))
    family = [main, *main.children(recursive=True)]
    killed_at = datetime.now(UTC)
    t0 = time.monotonic()
    main.send_signal(signal.SIGKILL)
    while time.monotonic() - t0 < 90:
        state = stack.programs().get(name)
        if state and state.running and state.pid != main.pid and ANSWERS[name](stack, killed_at):
            took = time.monotonic() - t0
            break
        time.sleep(0.25)
    else:
        log = stack.settings.stack_home / "log" / f"{name}.log"
        raise AssertionError(f"{name} is not back: {stack.programs().get(name)}\n{log_tail(log)}")
    _, alive = psutil.wait_procs(family, timeout=10)
    assert alive == [], [p.cmdline() for p in alive if p.is_running()]
    RECOVERY[name] = took
    print(f"{name}: back and answering {took:.1f} s after kill -9")
    return took


def test_the_scheduler_killed_mid_render_is_back_and_the_task_retried(
    stack: RunningStack,
) -> None:
    post_id, run_id, task = _render_under_way(stack)
    assert _kill_and_time(stack, "airflow-scheduler") < 30
    assert not task.is_running() or task.status() == psutil.STATUS_ZOMBIE
    # No orphaned log server held its port: the new scheduler serves task logs.
    assert "address already in use" not in log_tail(
        stack.settings.stack_home / "log" / "airflow-scheduler.log", 200
    )
    _assert_made_on_the_second_try(stack, post_id, run_id)
    line = next(ln for ln in stack.cli("status").stdout.splitlines() if "scheduler" in ln)
    assert "1 restarts; heartbeating" in line, line


@pytest.mark.parametrize("name", [s for s in SERVICES if s != "airflow-scheduler"])
def test_a_service_killed_with_sigkill_is_back_within_30_s(stack: RunningStack, name: str) -> None:
    assert _kill_and_time(stack, name) < 30


def _dashboard(stack: RunningStack, monkeypatch: pytest.MonkeyPatch, page: str) -> AppTest:
    """The dashboard's page as a signed-in reviewer sees it, on this stack's settings."""
    for key, value in stack.env.items():
        if key.startswith("WAGGLE_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("WAGGLE_DASHBOARD_USERS", json.dumps({"kim": hash_password("pw-12345")}))
    get_settings.cache_clear()
    at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=60).run()
    at.text_input(key="login_name").input("kim")
    at.text_input(key="login_password").input("pw-12345")
    at.button[0].click().run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    get_settings.cache_clear()
    engine_for.cache_clear()
    return at


def test_the_progress_page_says_when_the_scheduler_last_heartbeated(
    stack: RunningStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _dashboard(stack, monkeypatch, "views/progress.py")
    said = [c.value for c in at.caption]
    assert any(re.match(r"Airflow's scheduler last heartbeated \d+ s ago\.", c) for c in said)
    assert not at.error, [e.value for e in at.error]


def test_a_service_that_keeps_dying_ends_fatal_and_is_reported(
    stack: RunningStack, monkeypatch: pytest.MonkeyPatch, alerts: AlertReceiver
) -> None:
    name, port = "fake-youtube", stack.settings.fake_youtube_port
    stack.ctl("stop", name)
    with socket.socket() as squatter:  # another program takes its port
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        stack.ctl("start", name)  # supervisord tries, backs off, tries again, gives up
        deadline = time.monotonic() + 120
        while stack.programs()[name].state != "FATAL":
            assert time.monotonic() < deadline, stack.programs()[name]
            time.sleep(0.5)
        status = stack.cli("status")
        assert status.returncode == 1
        line = next(ln for ln in status.stdout.splitlines() if ln.startswith(name))
        assert re.match(rf"{name} +FATAL  Exited too quickly", line), status.stdout
        cause = f"cannot start {name}: 127.0.0.1:{port} is already in use"
        assert cause in status.stdout  # the last lines of its log, under its line
        at = _dashboard(stack, monkeypatch, "views/inbox.py")
        banner = [e.value for e in at.error]
        assert any(f"**{name}** is FATAL" in b.replace("\\", "") for b in banner), banner
        assert any(cause in c.value for c in at.code), [c.value for c in at.code]
        # ...and the owner is told by supervisord's own listener, Airflow or not.
        told = _alert(alerts, f"WaggleBot: service {name} is FATAL")
        assert cause in told["message"]  # the last lines of its log
    done = stack.cli("up", "--no-job")  # the cause gone, `up` starts it again
    assert done.returncode == 0, done.stdout + done.stderr
    assert stack.programs()[name].running
    assert stack.cli("status").returncode == 0
    assert not _dashboard(stack, monkeypatch, "views/inbox.py").error


def test_logs_rotate_at_the_size_set(stack: RunningStack) -> None:
    """supervisord rolls a log over once a write takes it to the size set: a rolled file
    holds the size and at most the one read of output that crossed it (128 KiB)."""
    logs = stack.settings.stack_home / "log"
    rolled = list(logs.glob("*.log.[0-9]*"))
    assert rolled, sorted(p.name for p in logs.iterdir())
    for path in rolled:
        assert LOG_MAX_BYTES <= path.stat().st_size <= LOG_MAX_BYTES + 128 * 1024, path
    for path in logs.glob("*.log"):
        assert path.stat().st_size <= LOG_MAX_BYTES + 128 * 1024, path
    assert not list(logs.glob(f"*.log.{LOG_BACKUPS + 1}"))  # the oldest are dropped


def test_supervisord_killed_then_up_brings_the_whole_stack_back(
    stack: RunningStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = stack.settings.stack_home
    before = {name: state.pid for name, state in stack.programs().items()}
    os.kill(int((home / "run" / "supervisord.pid").read_text()), signal.SIGKILL)
    time.sleep(1)
    status = stack.cli("status")
    assert status.returncode == 1
    assert "supervisord           NOT RUNNING" in status.stdout
    assert re.search(r"^mariadb +NOT SUPERVISED  on 127\.0\.0\.1:\d+$", status.stdout, re.M)
    banner = [e.value for e in _dashboard(stack, monkeypatch, "views/inbox.py").error]
    assert any("supervisor (supervisord) is not running" in b for b in banner), banner
    t0 = time.monotonic()
    done = stack.cli("up", "--no-job")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "already in use" not in done.stdout + done.stderr
    print(f"supervisord killed: up brought the stack back in {time.monotonic() - t0:.0f} s")
    assert not [p for p in before.values() if psutil.pid_exists(p)]  # the old ones ended
    assert set(stack.programs()) == {*SERVICES, "alert-listener"}  # and supervisord's alerts
    assert stack.cli("status").returncode == 0


def test_down_leaves_no_process_of_the_stack(stack: RunningStack) -> None:
    home = stack.settings.stack_home
    assert len(stack_processes(home)) > len(SERVICES)  # executor workers, log servers ...
    done = stack.cli("down", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    left = stack_processes(home)  # the whole process table, not only what it started
    assert left == [], [p.cmdline() for p in left]
    ports = [
        stack.settings.airflow_port,
        stack.settings.airflow_port + 1,
        stack.settings.airflow_port + 2,
        stack.settings.dashboard_port,
        stack.settings.fake_youtube_port,
    ]
    assert [p for p in ports if port_in_use(p)] == []
    status = stack.cli("status")
    assert status.returncode == 1
    assert "supervisord           NOT RUNNING" in status.stdout
    for name in SERVICES:
        assert re.search(rf"^{name} +NOT SUPERVISED  not running$", status.stdout, re.M), name
    print("recovery after kill -9:", json.dumps({k: round(v, 1) for k, v in RECOVERY.items()}))
