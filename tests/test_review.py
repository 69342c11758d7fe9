"""A person's decisions on the real MariaDB: approve, decline, retry, and the script review."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy.orm import Session, sessionmaker

from wagglebot.core.db.models import Content, Post
from wagglebot.core.states import IllegalTransition, transition
from wagglebot.core.statuses import PostStatus
from wagglebot.produce.batch import hold_for_review
from wagglebot.produce.stages.script import InvalidScript
from wagglebot.review.decisions import approve, approve_script, decline, retry, rewrite_script

from factories import add_posts

S = PostStatus
WRITTEN = (
    "퇴근길에 고양이가 집 앞까지 따라왔습니다. 결국 이름을 지어 주고 같이 살기로 했대요."
    " 아침마다 문 앞에서 기다리는 모습이 귀여워서 이제는 가족이 되었다고 합니다."
)
EDITED = (
    "퇴근길 고양이가 집까지 따라와 가족이 되었습니다. 이름은 참치랍니다. 여러분의 생각은요?"
    " 아침마다 문 앞에서 기다리는 모습이 귀여워서 모두가 좋아한대요."
)


def _scripted(session: Session) -> int:
    [pid] = add_posts(session, status=S.PROCESSING)
    hold_for_review(session, pid, text=WRITTEN, raw=f"<think>...</think>{WRITTEN}", engine="qwen")
    return pid


def _post(sessions: sessionmaker[Session], pid: int) -> tuple[Post, Content | None]:
    with sessions() as session:
        return session.get(Post, pid), session.get(Content, pid)


def test_approve_and_decline_record_who_and_refuse_what_others_moved(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        a, b, c = add_posts(session, 3)
        assert approve(session, [a, b], by="alice") == ([a, b], [])
        moved, refused = decline(session, [b, c], by="bob")
    assert moved == [c]
    assert [(e.post_id, e.current, e.by) for e in refused] == [(b, S.APPROVED, "alice")]
    post, _ = _post(sessions, c)
    assert (post.status, post.status_changed_by) == (S.DECLINED, "bob")


def test_retry_queues_only_failed_posts(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        [failed] = add_posts(session, status=S.FAILED, last_error="tts (attempt 3): timeout")
        [rendered] = add_posts(session, status=S.RENDERED)
        moved, refused = retry(session, [failed, rendered], by="alice")
    assert moved == [failed]
    assert [e.post_id for e in refused] == [rendered]
    post, _ = _post(sessions, failed)
    assert (post.status, post.last_error, post.status_changed_by) == (S.APPROVED, None, "alice")


def test_a_script_approved_as_written_or_edited(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        as_is, edited = _scripted(session), _scripted(session)
        assert approve_script(session, as_is, f"  {WRITTEN}\n", by="alice") == WRITTEN
        approve_script(session, edited, EDITED, by="bob")
    post, content = _post(sessions, as_is)
    assert (post.status, post.status_changed_by) == (S.APPROVED, "alice")
    assert (content.summary_text, content.script_edited, content.script_reviewed_by) == (
        WRITTEN,
        False,
        "alice",
    )
    assert content.script_reviewed_at is not None
    assert content.script_raw.startswith("<think>")  # the engine's own words stay for the record
    _, content = _post(sessions, edited)
    assert (content.summary_text, content.script_edited) == (EDITED, True)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("짧아요.", "length"),
        (
            "This script is mostly English words with 한국어 only here and there, sadly.",
            "not_korean",
        ),
        (
            "- 첫째 고양이가 따라왔습니다\n- 둘째 이름을 지어 주었습니다 그리고 같이 살았어요",
            "markup",
        ),
        # Sayable, but about 10 s: a clip, not a story (under 15 s is refused).
        ("퇴근길에 고양이가 따라왔어요. 결국 가족이 되었습니다. 이름은 참치예요.", "too_thin"),
    ],
)
def test_an_edit_that_cannot_be_voiced_is_refused_and_changes_nothing(
    sessions: sessionmaker[Session], text: str, reason: str
) -> None:
    with sessions() as session:
        pid = _scripted(session)
        with pytest.raises(InvalidScript) as info:
            approve_script(session, pid, text, by="alice")
    assert info.value.reason == reason
    post, content = _post(sessions, pid)
    assert post.status is S.SCRIPTED
    assert (content.summary_text, content.script_reviewed_by) == (WRITTEN, None)


def test_two_reviewers_approving_one_script_at_once_approve_it_once(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        pid = _scripted(session)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def review(name: str) -> None:
        barrier.wait()
        with sessions() as session:
            try:
                approve_script(session, pid, f"{EDITED} ({name})", by=name)
                outcomes.append("won")
            except IllegalTransition as exc:
                outcomes.append(f"told: {exc.current} by {exc.by}")

    threads = [threading.Thread(target=review, args=(f"r{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    post, content = _post(sessions, pid)
    assert Counter(outcomes) == {"won": 1, f"told: APPROVED by {post.status_changed_by}": 3}
    assert content.summary_text == f"{EDITED} ({post.status_changed_by})"  # the winner's text


def test_a_script_sent_back_is_written_again_by_the_next_sweep(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        pid = _scripted(session)
        rewrite_script(session, pid, by="alice")
        with pytest.raises(IllegalTransition):
            rewrite_script(session, pid, by="bob")  # it is APPROVED now
    post, content = _post(sessions, pid)
    assert post.status is S.APPROVED
    assert (content.summary_text, content.script_reviewed_at) == (None, None)


def test_a_post_can_be_declined_after_reading_its_script(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        pid = _scripted(session)
        assert decline(session, [pid], by="alice") == ([pid], [])
        with pytest.raises(IllegalTransition):
            transition(session, pid, S.APPROVED, expected=S.SCRIPTED)
    post, _ = _post(sessions, pid)
    assert post.status is S.DECLINED
