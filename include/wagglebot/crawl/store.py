"""Storing crawled posts: batched upserts, one short transaction per batch.

A post seen again gets its counts refreshed and keeps its status. Its title,
body and images are refreshed only while it is still COLLECTED: once a person
has approved a post, the text they approved is the text that gets narrated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, func, literal_column, select, tuple_, update
from sqlalchemy.dialects.mysql import insert
from sqlalchemy.orm import Session

from wagglebot.core.db.models import Comment, Post
from wagglebot.core.statuses import PostStatus
from wagglebot.crawl.items import PostItem


@dataclass
class StoreResult:
    new: int = 0
    updated: int = 0
    comments: int = 0

    def __iadd__(self, other: StoreResult) -> StoreResult:
        self.new += other.new
        self.updated += other.updated
        self.comments += other.comments
        return self


# Inlined, not bound: MySQLdb's executemany folds the rows into one multi-row INSERT and
# cannot take extra parameters in the ON DUPLICATE KEY UPDATE tail.
_IS_COLLECTED = Post.__table__.c.status == literal_column(f"'{PostStatus.COLLECTED.value}'")


def _while_collected(column: str):
    new, old = func.values(Post.__table__.c[column]), Post.__table__.c[column]
    return case((_IS_COLLECTED, new), else_=old)


def _keep_known(column: str):
    # A count the page stopped showing stays at its last known value.
    return func.coalesce(func.values(Post.__table__.c[column]), Post.__table__.c[column])


def upsert_posts(session: Session, items: Sequence[PostItem]) -> StoreResult:
    """Insert new posts and refresh known ones, with their best comments. Commits."""
    if not items:
        return StoreResult()
    items = list({(i.site_code, i.origin_id): i for i in items}.values())  # last one wins
    keys = [(i.site_code, i.origin_id) for i in items]
    key_cols = tuple_(Post.site_code, Post.origin_id)
    known = set(session.execute(select(Post.site_code, Post.origin_id).where(key_cols.in_(keys))))

    rows = [
        {
            "site_code": i.site_code,
            "origin_id": i.origin_id,
            "url": i.url,
            "title": i.title,
            "content": i.content,
            "images": i.images,
            "videos": i.videos,
            "views": i.views,
            "likes": i.likes,
            "comment_count": i.comment_count,
            "posted_at": i.posted_at,
        }
        for i in items
    ]
    stmt = insert(Post)
    # Columns first, status-dependent ones last: MariaDB applies the assignments in
    # order, and these read `status`, which no assignment here changes.
    stmt = stmt.on_duplicate_key_update(
        url=stmt.inserted.url,
        views=_keep_known("views"),
        likes=_keep_known("likes"),
        comment_count=_keep_known("comment_count"),
        posted_at=_keep_known("posted_at"),
        title=_while_collected("title"),
        content=_while_collected("content"),
        images=_while_collected("images"),
        videos=_while_collected("videos"),
    )
    session.execute(stmt, rows)

    ids = dict(
        ((site, oid), pid)
        for pid, site, oid in session.execute(
            select(Post.id, Post.site_code, Post.origin_id).where(key_cols.in_(keys))
        )
    )
    comment_rows = [
        {
            "post_id": ids[(i.site_code, i.origin_id)],
            "comment_key": c.key,
            "author": c.author,
            "content": c.content,
            "content_hash": c.content_hash,
            "likes": c.likes,
        }
        for i in items
        for c in i.comments
    ]
    if comment_rows:
        cstmt = insert(Comment)
        cstmt = cstmt.on_duplicate_key_update(
            likes=func.coalesce(cstmt.inserted.likes, Comment.likes),
            content=cstmt.inserted.content,
            content_hash=cstmt.inserted.content_hash,
            author=cstmt.inserted.author,
        )
        session.execute(cstmt, comment_rows)
    session.commit()
    new = len(keys) - len(known)
    return StoreResult(new=new, updated=len(known), comments=len(comment_rows))


SCORED_COUNTS = ("views", "likes", "comment_count")


def refresh_scores(session: Session, site_code: str) -> int:
    """Recompute the site's popularity scores; returns how many posts were scored. Commits.

    A post's score is the mean, over the counts it shows, of how many standard
    deviations its log count lies above its site's mean: a site with ten times the
    traffic of another does not crowd it out of the inbox. Counts the page does not
    show (NULL) take no part; a post with none has no score.
    """
    log_count = {name: func.ln(1 + Post.__table__.c[name]) for name in SCORED_COUNTS}
    stats = session.execute(
        select(
            *(func.avg(expr) for expr in log_count.values()),
            *(func.stddev_pop(expr) for expr in log_count.values()),
        ).where(Post.site_code == site_code)
    ).one()
    means, spreads = stats[: len(SCORED_COUNTS)], stats[len(SCORED_COUNTS) :]
    zs, shown = [], []
    for (name, expr), mean, spread in zip(log_count.items(), means, spreads, strict=True):
        column = Post.__table__.c[name]
        if mean is None:  # the site never shows this count
            continue
        z = (expr - float(mean)) / float(spread) if spread else literal_column("0")
        zs.append(case((column.is_(None), 0), else_=z))
        shown.append(case((column.is_(None), 0), else_=1))
    if not zs:
        return 0
    total_z = zs[0] if len(zs) == 1 else sum(zs[1:], zs[0])
    total_shown = shown[0] if len(shown) == 1 else sum(shown[1:], shown[0])
    result = session.execute(
        update(Post)
        .where(Post.site_code == site_code)
        .values(score=total_z / func.nullif(total_shown, 0))
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount
