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

from wagglebot.core.db.models import Post, Upload
from wagglebot.core.db.story_rows import standing_moved
from wagglebot.core.statuses import PostStatus, UploadState

S = PostStatus
U = UploadState
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


# --- publishing: one uploads row per platform, and the post's status that follows -------

# target -> the states an uploads row may be in to move there.
UPLOAD_SOURCES: dict[UploadState, frozenset[UploadState]] = {
    U.UPLOADING: frozenset({U.WAITING}),  # claimed by a run
    U.WAITING: frozenset({U.UPLOADING, U.FAILED}),  # given back (quota, a stop); retried
    U.PUBLISHED: frozenset({U.UPLOADING}),
    U.FAILED: frozenset({U.UPLOADING}),  # the platform refused; or the Short is not whole
}


def move_upload(
    session: Session, post_id: int, platform: str, target: UploadState, **values: object
) -> bool:
    """Move one platform's upload of a post (a guarded UPDATE, like a post's); False when
    it was not in a state that may move there (another run moved it first). The caller
    holds the post's row (``lock_post``) and settles the post after."""
    stmt = (
        update(Upload)
        .where(
            Upload.post_id == post_id,
            Upload.platform == platform,
            Upload.state.in_(UPLOAD_SOURCES[target]),
        )
        .values(state=target, **values)
        .execution_options(synchronize_session=False)
    )
    return session.execute(stmt).rowcount == 1


def lock_post(session: Session, post_id: int) -> PostStatus | None:
    """Hold the post's row until the transaction ends. Every change of an upload's state
    takes it first, so the post's platforms are settled one change at a time (and two
    runs' locks are always taken in the same order)."""
    return session.scalar(select(Post.status).where(Post.id == post_id).with_for_update())


def publishing_status(states: Iterable[UploadState]) -> PostStatus:
    """The post's status from its platforms' uploads: published anywhere is UPLOADED; else
    one in flight is PUBLISHING; else one still waiting keeps it RENDERED; FAILED only
    once every platform asked for has failed. A failure on one platform leaves the
    others alone."""
    found = set(states)
    for state, status in (
        (U.PUBLISHED, S.UPLOADED),
        (U.UPLOADING, S.PUBLISHING),
        (U.WAITING, S.RENDERED),
        (U.FAILED, S.FAILED),
    ):
        if state in found:
            return status
    return S.RENDERED


def settle_publishing(session: Session, post_id: int, error: str | None = None) -> PostStatus:
    """Move the post to the status its uploads add up to (``publishing_status``); the caller
    holds its row (``lock_post``) and commits. ``error``: why, if it ends FAILED."""
    current = lock_post(session, post_id)
    if current is None:
        raise PostNotFound(post_id)
    states = session.scalars(
        select(Upload.state).where(
            Upload.post_id == post_id,
            # a request withdrawn before any run took it counts for nothing
            (Upload.requested_at.is_not(None)) | (Upload.state != U.WAITING),
        )
    ).all()
    target = publishing_status(states)
    if target is current or current not in (S.RENDERED, S.PUBLISHING, S.UPLOADED):
        return current  # e.g. FAILED stays FAILED until a person retries it
    if target is S.FAILED and error is None:
        notes = session.scalars(
            select(Upload.note).where(Upload.post_id == post_id, Upload.state == U.FAILED)
        ).all()
        error = "; ".join(n for n in notes if n) or "the upload failed"
    transition(
        session, post_id, target, expected=current, error=error if target is S.FAILED else None
    )
    return target


def reopen_failed_uploads(session: Session, post_id: int) -> None:
    """A person retries the post: each platform that failed waits for the next run again
    (still asked for, its session kept). The caller commits."""
    session.execute(
        update(Upload)
        .where(Upload.post_id == post_id, Upload.state == U.FAILED)
        .values(state=U.WAITING, heartbeat_at=None)
        .execution_options(synchronize_session=False)
    )
