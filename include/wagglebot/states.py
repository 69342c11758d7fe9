"""The post state machine: the statuses, the allowed moves, and the only code that moves a post.

Every status change is a guarded ``UPDATE posts SET status=new WHERE id=? AND
status IN (allowed sources)`` whose row count is checked, so two people (or two
sweeps) acting at once cannot both move the same post: exactly one wins and the
other gets an ``IllegalTransition`` that says what the post is now.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session


class PostStatus(enum.StrEnum):
    COLLECTED = "COLLECTED"
    APPROVED = "APPROVED"
    DECLINED = "DECLINED"
    PROCESSING = "PROCESSING"
    RENDERED = "RENDERED"
    UPLOADED = "UPLOADED"
    FAILED = "FAILED"


S = PostStatus
# target -> the statuses a post may be in to move there.
ALLOWED_SOURCES: dict[PostStatus, frozenset[PostStatus]] = {
    S.APPROVED: frozenset({S.COLLECTED, S.FAILED, S.PROCESSING}),  # approve, retry, recover
    S.DECLINED: frozenset({S.COLLECTED}),
    S.PROCESSING: frozenset({S.APPROVED}),  # claimed by a sweep
    S.RENDERED: frozenset({S.PROCESSING}),
    S.FAILED: frozenset({S.PROCESSING}),
    S.UPLOADED: frozenset({S.RENDERED}),
    S.COLLECTED: frozenset(),  # only ever the first status
}


class TransitionError(RuntimeError):
    """Base for refused status changes."""


class PostNotFound(TransitionError):
    def __init__(self, post_id: int) -> None:
        super().__init__(f"post {post_id} does not exist")
        self.post_id = post_id


class IllegalTransition(TransitionError):
    def __init__(self, post_id: int, current: PostStatus, target: PostStatus) -> None:
        allowed = ", ".join(sorted(ALLOWED_SOURCES[target])) or "nothing"
        super().__init__(
            f"post {post_id} is {current}, cannot move to {target} (only from: {allowed})"
        )
        self.post_id, self.current, self.target = post_id, current, target


def can_move(current: PostStatus, target: PostStatus) -> bool:
    return current in ALLOWED_SOURCES[target]


def _sources(target: PostStatus, expected: PostStatus | None) -> frozenset[PostStatus]:
    allowed = ALLOWED_SOURCES[target]
    if expected is None:
        return allowed
    if expected not in allowed:  # a programming error, not a race
        raise ValueError(f"{expected} -> {target} is not a transition of the state machine")
    return frozenset({expected})


def transition(
    session: Session,
    post_id: int,
    target: PostStatus,
    *,
    expected: PostStatus | None = None,
    error: str | None = None,
) -> None:
    """Move one post to ``target``, or raise if another actor moved it first.

    ``expected`` narrows the allowed source (an approve button expects COLLECTED,
    so approving a FAILED post by mistake is refused). Moving to FAILED keeps
    ``error`` as the post's last error; any other move clears it. The caller
    commits; keep the transaction short.
    """
    from wagglebot.db.models import Post  # the models import this module

    if (target is S.FAILED) != (error is not None):
        raise ValueError("an error text is required for FAILED, and only for FAILED")
    values: dict[str, object] = {"status": target, "status_changed_at": func.now(6)}
    values["last_error"] = error
    if target is S.PROCESSING:
        values["attempts"] = Post.attempts + 1
    stmt = (
        update(Post)
        .where(Post.id == post_id, Post.status.in_(_sources(target, expected)))
        .values(values)
        .execution_options(synchronize_session=False)
    )
    if session.execute(stmt).rowcount == 1:
        return
    current = session.scalar(select(Post.status).where(Post.id == post_id))
    if current is None:
        raise PostNotFound(post_id)
    raise IllegalTransition(post_id, PostStatus(current), target)


def transition_many(
    session: Session,
    post_ids: Iterable[int],
    target: PostStatus,
    *,
    expected: PostStatus | None = None,
) -> tuple[list[int], list[TransitionError]]:
    """Move several posts; returns (moved ids, refusals) instead of stopping at the first."""
    moved: list[int] = []
    refused: list[TransitionError] = []
    for post_id in post_ids:
        try:
            transition(session, post_id, target, expected=expected)
        except TransitionError as exc:
            refused.append(exc)
        else:
            moved.append(post_id)
    return moved, refused


def claim_approved(session: Session, limit: int) -> Sequence[int]:
    """Atomically take up to ``limit`` APPROVED posts into PROCESSING, oldest approval first.

    ``FOR UPDATE SKIP LOCKED`` lets two sweeps claim at the same moment without
    waiting on each other or taking the same post. Commits before returning so
    the rows are locked only for this short transaction.
    """
    from wagglebot.db.models import Post

    ids = session.scalars(
        select(Post.id)
        .where(Post.status == S.APPROVED)
        .order_by(Post.status_changed_at, Post.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for post_id in ids:
        transition(session, post_id, S.PROCESSING, expected=S.APPROVED)
    session.commit()
    return ids
