"""Read queries shared by the dashboard and the DAGs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wagglebot.core.db.models import Comment, Post, Story, Upload
from wagglebot.core.statuses import PostStatus, StoryStanding, UploadState


def status_counts(session: Session) -> dict[PostStatus, int]:
    """Posts per status, every status present (0 when none), in one grouped query."""
    rows = session.execute(select(Post.status, func.count()).group_by(Post.status)).all()
    counts = dict.fromkeys(PostStatus, 0)
    counts.update({PostStatus(status): n for status, n in rows})
    return counts


@dataclass(frozen=True)
class BestComment:
    author: str | None
    content: str
    likes: int | None


def best_comments(
    session: Session, post_ids: Sequence[int], per_post: int
) -> dict[int, list[BestComment]]:
    """The most-liked comments of each post, best first, for many posts in one query."""
    if not post_ids:
        return {}
    rank = (
        func.row_number()
        .over(
            partition_by=Comment.post_id,
            order_by=(Comment.likes.is_(None), Comment.likes.desc(), Comment.id),
        )
        .label("rank")
    )
    ranked = (
        select(Comment.post_id, Comment.author, Comment.content, Comment.likes, rank)
        .where(Comment.post_id.in_(post_ids))
        .subquery()
    )
    best: dict[int, list[BestComment]] = {}
    for post_id, author, content, likes, _ in session.execute(
        select(ranked).where(ranked.c.rank <= per_post).order_by(ranked.c.post_id, ranked.c.rank)
    ):
        best.setdefault(post_id, []).append(BestComment(author, content, likes))
    return best


def _statuses(standing: StoryStanding) -> tuple[PostStatus, ...]:
    return tuple(s for s in PostStatus if StoryStanding.of(s) is standing)


# A story whose member is in one of these is taken: its other members wait for nothing.
PUBLISHED = _statuses(StoryStanding.PUBLISHED)
IN_PRODUCTION = _statuses(StoryStanding.IN_PRODUCTION)


@dataclass(frozen=True)
class TakenBy:
    """The member that has already taken a post's story: published, or being made."""

    post_id: int
    site_code: str
    status: PostStatus
    video_url: str | None  # where it is published, once it is

    def reason(self) -> str:
        if self.status in PUBLISHED:
            where = self.video_url or f"post {self.post_id} ({self.site_code}), uploading"
            return f"its story is already published: {where}"
        return f"its story is already being made from post {self.post_id} ({self.site_code})"


def story_taken_by(
    session: Session, post_id: int, *, published_only: bool = False, lock: bool = False
) -> TakenBy | None:
    """Another member of ``post_id``'s story that is published (first) or in production.

    ``lock``: hold the story's row until the transaction ends, so two runs cannot both
    find the story free and publish two of its members."""
    story_id = session.scalar(select(Post.story_id).where(Post.id == post_id))
    if story_id is None:
        return None
    if lock:
        session.execute(select(Story.id).where(Story.id == story_id).with_for_update())
    statuses = PUBLISHED if published_only else PUBLISHED + IN_PRODUCTION
    rows = session.execute(
        select(Post.id, Post.site_code, Post.status, Upload.video_url, Upload.platform)
        # where it is published, on any platform (YouTube's link first)
        .outerjoin(Upload, (Upload.post_id == Post.id) & (Upload.state == UploadState.PUBLISHED))
        .where(Post.story_id == story_id, Post.id != post_id, Post.status.in_(statuses))
    ).all()
    if not rows:
        return None
    row = min(rows, key=lambda r: (r.status not in PUBLISHED, not r.video_url,
                                   r.platform != "youtube", r.id))  # fmt: skip
    return TakenBy(row.id, row.site_code, PostStatus(row.status), row.video_url)
