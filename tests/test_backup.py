"""Backups that restore, on the real MariaDB, mariadb-dump, rsync, espeak-ng and ffmpeg:
a backup taken while a sweep writes comes back exactly as it was captured."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from wagglebot.core.config import Settings
from wagglebot.core.stage_runs import TaskAttempt
from wagglebot.core.statuses import PostStatus
from wagglebot.ops import backup as backups
from wagglebot.ops.backup import (
    BackupError,
    backup,
    database_contents,
    file_digests,
    finished_backups,
    restore,
)
from wagglebot.produce.batch import claim_batch, finish
from wagglebot.produce.tasks import gather_pictures, render, speak, write_scripts

from conftest import REPO
from factories import add_posts

ARTIFACTS = Path(os.environ.get("WAGGLE_TEST_ARTIFACTS", REPO / "test-artifacts"))
STORY = (
    "퇴근길에 작은 고양이가 집 앞까지 따라왔어요. 배가 고파 보여서 참치를 조금 나눠줬습니다. "
    "다음 날 아침에도 문 앞에서 기다리고 있더라고요. 결국 이름을 지어주고 같이 살기로 했어요."
)


def _attempt(task: str, run: str) -> TaskAttempt:
    return TaskAttempt("produce_shorts", run, task, -1, 1, True)


def sweep(settings: Settings, run: str) -> None:
    """One produce_shorts run, its tasks called in order as Airflow calls them."""
    claimed = claim_batch(settings, batch=5, attempt=_attempt("claim", run))
    scripts = write_scripts(claimed, _attempt("write_scripts", run), settings)
    voices = speak(scripts, _attempt("speak", run), settings)
    videos = render(voices, gather_pictures(claimed, settings), _attempt("render", run), settings)
    finish(claimed, scripts, voices, videos, settings, _attempt("finish", run))


@pytest.fixture
def settings(db_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    env_file = tmp_path / "dot.env"
    env_file.write_text("WAGGLE_DASHBOARD_USERS={}\n")
    monkeypatch.setattr(backups, "ENV_FILE", env_file)  # not the checkout's own .env
    token = tmp_path / "youtube" / "token.json"
    token.parent.mkdir()
    token.write_text('{"refresh_token": "r-123"}')
    return db_settings.model_copy(
        update={
            "media_root": tmp_path / "media",
            "backup_dir": tmp_path / "backups",
            "youtube_token_file": token,
            "script_review": False,
        }
    )


def test_a_backup_during_a_sweep_restores_exactly_what_it_captured(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    with sessions() as session:
        add_posts(session, title="먼저 만든 쇼츠", content=STORY, status=PostStatus.APPROVED)
        add_posts(session, 4, status=PostStatus.COLLECTED, content=STORY)
    sweep(settings, "manual__first")  # one Short made before
    with sessions() as session:
        add_posts(session, 2, title="만드는 중", content=STORY, status=PostStatus.APPROVED)
    running = threading.Thread(target=sweep, args=(settings, "manual__second"))
    running.start()
    deadline = time.monotonic() + 60
    while not list(settings.media_root.glob("posts/*/script.json"))[1:]:  # the 2nd run writes
        assert time.monotonic() < deadline
        time.sleep(0.05)
    taken = backup(settings, say=lambda _m: None)
    running.join(180)
    assert not running.is_alive()
    captured = taken.manifest
    assert "PROCESSING" in captured["post_statuses"].values()  # caught mid-sweep
    assert captured["rows"]["posts"] == 7
    assert sorted(captured["secrets"]) == ["env", "youtube-token.json"]
    assert oct((taken.path / "secrets").stat().st_mode & 0o777) == "0o700"
    assert any(name.endswith("short.mp4") for name in captured["files"])

    # Lose everything: the database and the media folder.
    with sessions() as session:
        database = session.execute(text("SELECT DATABASE()")).scalar()
        session.execute(text(f"DROP DATABASE `{database}`"))
    for path in sorted(settings.media_root.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    settings.media_root.rmdir()
    settings.youtube_token_file.unlink()

    checked = restore(settings, taken.path, say=lambda _m: None)
    sessions.kw["bind"].dispose()  # this test's own pool still points at the dropped one
    assert checked == {"rows": True, "post_statuses": True, "files": True}
    rows, statuses = database_contents(settings)
    assert rows == captured["rows"]  # every table's row count
    assert statuses == captured["post_statuses"]  # every post's status
    assert file_digests(settings.media_root) == captured["files"]  # every file's SHA-256
    assert json.loads(settings.youtube_token_file.read_text())["refresh_token"] == "r-123"
    assert oct(settings.youtube_token_file.stat().st_mode & 0o777) == "0o600"
    said = (
        f"restore check: {sum(rows.values())} rows in {len(rows)} tables, "
        f"{len(statuses)} post statuses, {len(captured['files'])} files: all equal"
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "restore-check.txt").write_text(
        f"{said}\nrows: {json.dumps(rows)}\nstatuses: {json.dumps(statuses)}\n", encoding="utf-8"
    )


def test_unchanged_media_is_linked_and_old_backups_go(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    settings.media_root.mkdir(parents=True)
    (settings.media_root / "posts" / "1").mkdir(parents=True)
    (settings.media_root / "posts" / "1" / "short.mp4").write_bytes(b"\0" * 100_000)
    (settings.media_root / "previews").mkdir()
    (settings.media_root / "previews" / "cache.jpg").write_bytes(b"x")  # a cache: not kept
    month = settings.model_copy(update={"backup_keep_days": 30})
    first = backup(month, say=lambda _m: None, now=datetime(2026, 11, 20, 18))
    (settings.media_root / "posts" / "1" / "new.json").write_text("{}")
    second = backup(month, say=lambda _m: None, now=datetime(2026, 12, 6, 18))
    video = Path("media") / "posts" / "1" / "short.mp4"
    assert os.stat(first.path / video).st_ino == os.stat(second.path / video).st_ino  # linked
    assert (second.path / "media" / "posts" / "1" / "new.json").is_file()
    assert not (second.path / "media" / "previews").exists()
    # Kept 7 days (the default), the first is 16 days old at the second: pruned.
    assert backups.prune(settings, datetime(2026, 12, 6, 18)) == [first.path]
    assert [b.path.name for b in finished_backups(settings.backup_dir)] == ["20261206-180000"]
    assert (second.path / video).is_file()  # its link outlives the first backup
    assert backups.prune(settings, datetime(2027, 6, 1)) == []  # never the newest


def test_restore_refuses_what_is_not_a_backup_of_this_database(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    with pytest.raises(BackupError, match="is no finished backup"):
        restore(settings, tmp_path / "nothing", say=lambda _m: None)
    taken = backup(settings, say=lambda _m: None)
    manifest = json.loads((taken.path / "manifest.json").read_text())
    manifest["database"] = "another"
    (taken.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="the backup holds database 'another'"):
        restore(settings, taken.path, say=lambda _m: None)


def test_a_failed_dump_leaves_no_half_backup(settings: Settings) -> None:
    down = settings.model_copy(
        update={"db_url": settings.db_url.__class__("mysql+mysqldb://x:secret-pw@127.0.0.1:1/x")}
    )
    with pytest.raises(BackupError, match="mariadb-dump failed") as failed:
        backup(down, say=lambda _m: None)
    assert "secret-pw" not in str(failed.value)
    assert list(settings.backup_dir.iterdir()) == []
    assert finished_backups(settings.backup_dir) == []
