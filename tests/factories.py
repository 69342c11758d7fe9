"""Small builders for test rows."""

from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from wagglebot.core.db.models import Post
from wagglebot.core.statuses import PostStatus

_seq = itertools.count(1)


def add_posts(
    session: Session, n: int = 1, status: PostStatus = PostStatus.COLLECTED, **fields: object
) -> list[int]:
    posts = []
    for _ in range(n):
        i = next(_seq)
        values = {
            "site_code": "nate_pann",
            "origin_id": f"{i}",
            "url": f"https://pann.nate.com/talk/{i}",
            "title": f"제목 {i}",
            "content": f"본문 {i}",
            "images": [],
            "status": status,
        }
        values.update(fields)
        posts.append(Post(**values))
    session.add_all(posts)
    session.commit()
    return [p.id for p in posts]
