"""The post state machine: the allowed moves between statuses (wagglebot.core.statuses) and the
only code that moves a post.

Every status change is a guarded ``UPDATE posts SET status=new WHERE id=? AND
status IN (allowed sources)`` whose row count is checked, so two people (or two
sweeps) acting at once cannot both move the same post: exactly one wins and the
other gets an ``IllegalTransition`` that says what the post is now.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from wagglebot.core.db.models import Post
from wagglebot.core.db.story_rows import standing_moved
from wagglebot.core.statuses import PostStatus

S = PostStatus
# target -> the statuses a post may be in to move there.
ALLOWED_SOURCES: dict[PostStatus, frozenset[PostStatus]] = {
    # approve, retry, recover, script approved (or sent back to the LLM)
    S.APPROVED: frozenset({S.COLLECTED, S.FAILED, S.PROCESSING, S.SCRIPTED}),
    S.DECLINED: frozenset({S.COLLECTED, S.SCRIPTED}),
    S.PROCESSING: frozenset({S.APPROVED}),  # claimed by a sweep
    S.SCRIPTED: frozenset({S.PROCESSING}),  # the sweep stops after the LLM for a review
    # made; or an upload given back (quota, a stop) or retried after it failed
    S.RENDERED: frozenset({S.PROCESSING, S.PUBLISHING, S.FAILED}),
    S.FAILED: frozenset({S.PROCESSING, S.PUBLISHING}),
    S.PUBLISHING: frozenset({S.RENDERED}),  # claimed by a publish run
    S.UPLOADED: frozenset({S.PUBLISHING}),
    S.COLLECTED: frozenset(),  # only ever the first status
}


class TransitionError(RuntimeError):
    """Base for refused status changes."""


class PostNotFound(TransitionError):
    def __init__(self, post_id: int) -> None:
        super().__init__(f"post {post_id} does not exist")
        self.post_id = post_id


class IllegalTransition(TransitionError):
    def __init__(
        self, post_id: int, current: PostStatus, target: PostStatus, by: str | None = None
    ) -> None:
        allowed = ", ".join(sorted(ALLOWED_SOURCES[target])) or "nothing"
        who = f" (by {by})" if by else ""
        super().__init__(
            f"post {post_id} is {current}{who}, cannot move to {target} (only from: {allowed})"
        )
        self.post_id, self.current, self.target, self.by = post_id, current, target, by


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
    by: str | None = None,
    claimed_by: str | None = None,
) -> None:
    """Move one post to ``target``, or raise if another actor moved it first.

    ``expected`` narrows the allowed source (an approve button expects COLLECTED,
    so approving a FAILED post by mistake is refused). Moving to FAILED keeps
    ``error`` as the post's last error; any other move clears it. ``by``: the
    person who made the move (None for the pipeline). The caller commits; keep
    the transaction short. ``claimed_by``: the sweep (Airflow run id) that takes the post
    into PROCESSING; leaving PROCESSING clears it.
    """
    if (target is S.FAILED) != (error is not None):
        raise ValueError("an error text is required for FAILED, and only for FAILED")
    # Assigned in this order: `attempts` reads the status before it changes.
    values: list[tuple[object, object]] = []
    if target is S.PROCESSING:
        values.append((Post.attempts, Post.attempts + 1))
    elif target is S.APPROVED:
        # A person's approve, retry or script approval starts the count of sweeps afresh;
        # only a sweep that died (PROCESSING -> APPROVED) keeps it.
        values.append((Post.attempts, case((Post.status == S.PROCESSING, Post.attempts), else_=0)))
    values += [
        (Post.status, target),
        (Post.status_changed_at, func.now(6)),
        (Post.status_changed_by, by),
        (Post.last_error, error),
        (Post.claimed_by, claimed_by if target is S.PROCESSING else None),
    ]
    stmt = (
        update(Post)
        .where(Post.id == post_id, Post.status.in_(_sources(target, expected)))
        .ordered_values(*values)
        .execution_options(synchronize_session=False)
    )
    if session.execute(stmt).rowcount == 1:
        standing_moved(session, post_id)  # its story may leave or rejoin the Inbox
        return
    row = session.execute(
        select(Post.status, Post.status_changed_by).where(Post.id == post_id)
    ).first()
    if row is None:
        raise PostNotFound(post_id)
    raise IllegalTransition(post_id, PostStatus(row.status), target, row.status_changed_by)


def transition_many(
    session: Session,
    post_ids: Iterable[int],
    target: PostStatus,
    *,
    expected: PostStatus | None = None,
    by: str | None = None,
) -> tuple[list[int], list[TransitionError]]:
    """Move several posts; returns (moved ids, refusals) instead of stopping at the first."""
    moved: list[int] = []
    refused: list[TransitionError] = []
    for post_id in post_ids:
        try:
            transition(session, post_id, target, expected=expected, by=by)
        except TransitionError as exc:
            refused.append(exc)
        else:
            moved.append(post_id)
    return moved, refused


def claim_approved(session: Session, limit: int, owner: str | None = None) -> Sequence[int]:
    """Atomically take up to ``limit`` APPROVED posts into PROCESSING, oldest approval first.

    ``owner`` (the sweep's run id) is kept on each post while it is PROCESSING: with
    several sweeps at once, each works on and finishes only the posts it holds.

    ``FOR UPDATE SKIP LOCKED`` lets two sweeps claim at the same moment without
    waiting on each other or taking the same post. Commits before returning so
    the rows are locked only for this short transaction.
    """
    ids = session.scalars(
        select(Post.id)
        .where(Post.status == S.APPROVED)
        .order_by(Post.status_changed_at, Post.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for post_id in ids:
        transition(session, post_id, S.PROCESSING, expected=S.APPROVED, claimed_by=owner)
    session.commit()
    return ids
