"""The sweep's bookkeeping on a real MariaDB: attempts, failures, finishing, recovery."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from wagglebot.core.db.models import Content, Post, StageRun
from wagglebot.core.stage_runs import TaskAttempt, stage_failed, stage_started, stage_succeeded
from wagglebot.core.states import IllegalTransition, claim_approved
from wagglebot.core.statuses import PostStatus, Stage, StageOutcome
from wagglebot.produce.batch import finish_post, recover_stuck

from factories import add_posts

S = PostStatus


def _claimed(session: Session, n: int = 1) -> list[int]:
    ids = add_posts(session, n, status=S.APPROVED)
    assert sorted(claim_approved(session, n)) == sorted(ids)
    return ids


def test_stage_attempts_are_numbered_and_timed(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        [pid] = _claimed(session)
        ref = TaskAttempt("produce_shorts", "manual__1", "llm", 0, 1)
        first = stage_started(session, pid, Stage.LLM, ref)
        stage_succeeded(session, first, engine="extractive")
        second = stage_started(session, pid, Stage.LLM)
        tts = stage_started(session, pid, Stage.TTS)
        runs = {r.id: r for r in session.scalars(select(StageRun)).all()}
        assert (runs[first].attempt, runs[second].attempt, runs[tts].attempt) == (1, 2, 1)
        assert runs[first].outcome is StageOutcome.SUCCEEDED
        assert runs[first].engine == "extractive"
        assert runs[first].finished_at >= runs[first].started_at
        assert (runs[first].dag_id, runs[first].task_id, runs[first].map_index) == (
            "produce_shorts",
            "llm",
            0,
        )
        assert runs[second].outcome is StageOutcome.RUNNING


def test_a_failed_stage_fails_the_post_with_the_real_error(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        [pid] = _claimed(session)
        run = stage_started(session, pid, Stage.TTS)
        stage_failed(session, run, "espeak-ng failed on sentence 2: voice 'ko' not found\n")
        session.expire_all()
        post, stage_run = session.get(Post, pid), session.get(StageRun, run)
        assert post.status is S.FAILED
        assert (
            post.last_error
            == "tts (attempt 1): espeak-ng failed on sentence 2: voice 'ko' not found"
        )
        assert stage_run.outcome is StageOutcome.FAILED
        assert stage_run.error == "espeak-ng failed on sentence 2: voice 'ko' not found"
        empty = stage_started(session, _claimed(session)[0], Stage.LLM)
        stage_failed(session, empty, "   ")
        assert session.get(StageRun, empty).error == "failed without a message"


def test_finishing_writes_contents_and_renders_once(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        [pid] = _claimed(session)
        finish_post(
            session,
            pid,
            summary_text="대본",
            audio_path="/m/1/voice.wav",
            video_path="/m/1/short.mp4",
        )
        session.expire_all()
        assert session.get(Post, pid).status is S.RENDERED
        assert session.get(Content, pid).video_path == "/m/1/short.mp4"
        with pytest.raises(IllegalTransition, match="is RENDERED"):  # a rerun cannot redo it
            finish_post(session, pid, summary_text="다른 대본", audio_path="a", video_path="v")
        session.rollback()
        session.expire_all()
        assert session.get(Content, pid).summary_text == "대본"
        assert len(session.scalars(select(Content)).all()) == 1


def _age(session: Session, post_id: int, minutes: int) -> None:
    session.execute(
        text("UPDATE posts SET status_changed_at = NOW(6) - INTERVAL :m MINUTE WHERE id = :i"),
        {"m": minutes, "i": post_id},
    )
    session.execute(
        text("UPDATE stage_runs SET started_at = NOW(6) - INTERVAL :m MINUTE WHERE post_id = :i"),
        {"m": minutes, "i": post_id},
    )
    session.commit()


def test_posts_stuck_in_processing_come_back_or_give_up(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        stuck, busy, fresh, worn = _claimed(session, 4)
        for pid in (stuck, busy, worn):
            stage_started(session, pid, Stage.RENDER)
            _age(session, pid, 120)
        stage_started(session, busy, Stage.RENDER)  # a stage started just now: still alive
        session.execute(text("UPDATE posts SET attempts = 3 WHERE id = :i"), {"i": worn})
        session.commit()

        result = recover_stuck(session, stale_after=timedelta(minutes=60), max_attempts=3)
        assert (result.requeued, result.failed) == ([stuck], [worn])
        session.expire_all()
        statuses = {p: session.get(Post, p).status for p in (stuck, busy, fresh, worn)}
        assert statuses == {
            stuck: S.APPROVED,
            busy: S.PROCESSING,
            fresh: S.PROCESSING,
            worn: S.FAILED,
        }
        assert session.get(Post, worn).last_error.startswith("gave up after 3 attempts")
        abandoned = session.scalars(select(StageRun).where(StageRun.post_id == stuck)).one()
        assert abandoned.outcome is StageOutcome.FAILED
        assert abandoned.error.startswith("abandoned")
        # Requeued posts are claimed again, and counted as a second attempt.
        assert list(claim_approved(session, 5)) == [stuck]
        assert session.get(Post, stuck).attempts == 2
        assert recover_stuck(session, timedelta(minutes=60), 3).requeued == []
