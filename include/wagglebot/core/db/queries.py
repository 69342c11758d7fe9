"""Read queries shared by the dashboard and the DAGs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wagglebot.core.db.models import Comment, Post
from wagglebot.core.statuses import PostStatus


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
