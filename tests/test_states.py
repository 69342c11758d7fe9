"""The state machine: one place that moves posts, guarded against races on a real MariaDB."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy.orm import Session, sessionmaker

from wagglebot.core.db.models import Post
from wagglebot.core.states import (
    ALLOWED_SOURCES,
    IllegalTransition,
    PostNotFound,
    can_move,
    claim_approved,
    transition,
    transition_many,
)
from wagglebot.core.statuses import PostStatus

from factories import add_posts

S = PostStatus


def test_the_mission_state_machine() -> None:
    allowed = {(src, dst) for dst, srcs in ALLOWED_SOURCES.items() for src in srcs}
    assert allowed == {
        (S.COLLECTED, S.APPROVED),
        (S.COLLECTED, S.DECLINED),
        (S.APPROVED, S.PROCESSING),
        (S.PROCESSING, S.RENDERED),
        (S.PROCESSING, S.FAILED),
        (S.PROCESSING, S.APPROVED),  # a sweep that died gives its posts back
        (S.FAILED, S.APPROVED),  # retry
        # Publishing: a run claims the upload; it ends uploaded, waits, or fails.
        (S.RENDERED, S.PUBLISHING),
        (S.PUBLISHING, S.UPLOADED),
        (S.PUBLISHING, S.RENDERED),  # the day's quota is spent, or the run stopped
        (S.PUBLISHING, S.FAILED),  # refused for good, with the platform's reason
        (S.FAILED, S.RENDERED),  # retry of a failed upload: the Short is kept
        # The script review between the LLM and the voice:
        (S.PROCESSING, S.SCRIPTED),  # the sweep stops after the LLM
        (S.SCRIPTED, S.APPROVED),  # script approved (or sent back to the LLM)
        (S.SCRIPTED, S.DECLINED),  # a person reads the script and drops the post
    }
    assert not can_move(S.UPLOADED, S.APPROVED)
    assert not can_move(S.DECLINED, S.PROCESSING)


def test_a_post_walks_the_happy_path(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        [pid] = add_posts(session)
        for target in (S.APPROVED, S.PROCESSING, S.RENDERED, S.PUBLISHING, S.UPLOADED):
            transition(session, pid, target)
            session.commit()
        post = session.get(Post, pid)
        session.refresh(post)
        assert post.status is S.UPLOADED
        assert post.attempts == 1
        assert post.status_changed_at > post.created_at


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (S.COLLECTED, S.RENDERED),
        (S.DECLINED, S.APPROVED),
        (S.UPLOADED, S.PROCESSING),
        (S.APPROVED, S.DECLINED),
        (S.RENDERED, S.COLLECTED),
    ],
)
def test_illegal_moves_are_refused_and_change_nothing(
    sessions: sessionmaker[Session], start: PostStatus, target: PostStatus
) -> None:
    with sessions() as session:
        [pid] = add_posts(session, status=start)
        with pytest.raises(IllegalTransition) as info:
            transition(session, pid, target)
        session.commit()
        assert f"post {pid} is {start}, cannot move to {target}" in str(info.value)
        assert session.get(Post, pid).status is start


def test_expected_source_narrows_the_move(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        [pid] = add_posts(session, status=S.FAILED, last_error="boom")
        # An "approve" button expects COLLECTED: it must not silently retry a FAILED post.
        with pytest.raises(IllegalTransition, match="is FAILED"):
            transition(session, pid, S.APPROVED, expected=S.COLLECTED)
        with pytest.raises(ValueError, match="not a transition"):
            transition(session, pid, S.APPROVED, expected=S.RENDERED)


def test_failure_keeps_its_error_and_retry_clears_it(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        [pid] = add_posts(session, status=S.PROCESSING)
        with pytest.raises(ValueError, match="error text is required"):
            transition(session, pid, S.FAILED)
        transition(session, pid, S.FAILED, error="CUDA out of memory (tried to allocate 2 GiB)")
        session.commit()
        assert session.get(Post, pid).last_error.startswith("CUDA out of memory")
        transition(session, pid, S.APPROVED)
        session.commit()
        session.expire_all()
        post = session.get(Post, pid)
        assert (post.status, post.last_error) == (S.APPROVED, None)


def test_unknown_post(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, pytest.raises(PostNotFound, match="post 999999999 does not"):
        transition(session, 999_999_999, S.APPROVED)


def test_transition_many_reports_each_refusal(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        fresh = add_posts(session, 3)
        [declined] = add_posts(session, status=S.DECLINED)
        moved, refused = transition_many(
            session, [*fresh, declined], S.APPROVED, expected=S.COLLECTED
        )
        session.commit()
        assert moved == fresh
        assert [(e.post_id, e.current) for e in refused] == [(declined, S.DECLINED)]


def _race(workers: int, work) -> list:
    barrier = threading.Barrier(workers)
    results: list = [None] * workers

    def run(i: int) -> None:
        barrier.wait()
        results[i] = work()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_a_post_approved_from_many_places_at_once_is_approved_once(
    sessions: sessionmaker[Session],
) -> None:
    for _round in range(5):
        with sessions() as session:
            [pid] = add_posts(session)

        def approve(pid: int = pid) -> str:
            with sessions() as session:
                try:
                    transition(session, pid, S.APPROVED, expected=S.COLLECTED)
                    session.commit()
                    return "won"
                except IllegalTransition as exc:
                    session.rollback()
                    return f"told: {exc.current}"

        outcomes = Counter(_race(8, approve))
        assert outcomes == {"won": 1, "told: APPROVED": 7}


def test_concurrent_sweeps_never_claim_the_same_post(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        approved = add_posts(session, 60, status=S.APPROVED)
        add_posts(session, 5, status=S.COLLECTED)  # never claimed

    def sweep() -> list[int]:
        claimed: list[int] = []
        while True:
            with sessions() as session:
                batch = claim_approved(session, 4)
            if not batch:
                return claimed
            claimed.extend(batch)

    results = _race(6, sweep)
    everything = [pid for batch in results for pid in batch]
    assert sorted(everything) == sorted(approved)  # each exactly once
    assert sum(1 for batch in results if batch) >= 2  # the sweeps really ran side by side
    with sessions() as session:
        posts = session.query(Post).filter(Post.id.in_(approved)).all()
        assert {(p.status, p.attempts) for p in posts} == {(S.PROCESSING, 1)}


def test_claim_takes_the_oldest_approval_first(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        first, second, third = add_posts(session, 3)
        for pid in (second, third, first):
            transition(session, pid, S.APPROVED)
            session.commit()
        assert list(claim_approved(session, 2)) == [second, third]
        assert list(claim_approved(session, 2)) == [first]
        assert list(claim_approved(session, 2)) == []


def test_who_moved_a_post_is_kept_and_told_to_the_next_person(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        [pid] = add_posts(session)
        transition(session, pid, S.APPROVED, expected=S.COLLECTED, by="alice")
        session.commit()
        with pytest.raises(IllegalTransition) as info:
            transition(session, pid, S.APPROVED, expected=S.COLLECTED, by="bob")
        assert info.value.by == "alice"
        assert f"post {pid} is APPROVED (by alice), cannot move to APPROVED" in str(info.value)
        transition(session, pid, S.PROCESSING)  # the pipeline: nobody in particular
        session.commit()
        session.expire_all()
        assert session.get(Post, pid).status_changed_by is None


def test_a_persons_decision_restarts_the_count_of_sweeps(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        [pid] = add_posts(session, status=S.APPROVED)
        for _ in range(2):  # two sweeps died with it: recovery keeps counting
            transition(session, pid, S.PROCESSING)
            transition(session, pid, S.APPROVED, expected=S.PROCESSING)
        session.commit()
        session.expire_all()
        assert session.get(Post, pid).attempts == 2
        transition(session, pid, S.PROCESSING)
        transition(session, pid, S.FAILED, error="boom")
        transition(session, pid, S.APPROVED, expected=S.FAILED, by="alice")  # a retry
        session.commit()
        session.expire_all()
        assert session.get(Post, pid).attempts == 0
        transition(session, pid, S.PROCESSING)
        transition(session, pid, S.SCRIPTED)
        transition(session, pid, S.APPROVED, expected=S.SCRIPTED, by="alice")
        session.commit()
        session.expire_all()
        assert session.get(Post, pid).attempts == 0
