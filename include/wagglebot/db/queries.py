"""Read queries shared by the dashboard and the DAGs."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wagglebot.db.models import Post
from wagglebot.states import PostStatus


def status_counts(session: Session) -> dict[PostStatus, int]:
    """Posts per status, every status present (0 when none), in one grouped query."""
    rows = session.execute(select(Post.status, func.count()).group_by(Post.status)).all()
    counts = dict.fromkeys(PostStatus, 0)
    counts.update({PostStatus(status): n for status, n in rows})
    return counts
