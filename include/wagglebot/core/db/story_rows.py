"""What a story row keeps of its members: how many, on how many communities, its
combined popularity and where it stands. Recomputed from the members whenever they
change (grouping, a person's split or merge, each crawl's new scores) and, for the
standing, with every status move (core.states.transition), so the Inbox reads one
indexed table instead of grouping every post on each page.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, case, event, func, select, update
from sqlalchemy.orm import Session

from wagglebot.core.db.models import Post, Story
from wagglebot.core.statuses import PostStatus, StoryStanding


def standing_rank(status_column=Post.status):
    """A member's status as its StoryStanding rank (SQL)."""
    return case(
        *(
            (status_column == s, int(StoryStanding.of(s)))
            for s in PostStatus
            if StoryStanding.of(s) is not StoryStanding.WAITING
        ),
        else_=int(StoryStanding.WAITING),
    )


def refresh_story_rows(session: Session, site_bonus: float, stories: Iterable[int] = ()) -> None:
    """Every story's (or just ``stories``') members, communities, popularity and standing.

    Popularity: the best member's site score, plus ``site_bonus`` for each further
    community (a story on four sites is hotter than any one post of it); NULL when no
    member has a score. The caller commits.
    """
    wanted = list(stories)
    members = select(
        Post.story_id.label("story_id"),
        func.count().label("members"),
        func.count(Post.site_code.distinct()).label("sites"),
        func.max(Post.score).label("best"),
        func.max(standing_rank()).label("standing"),
    ).where(Post.story_id.is_not(None))
    if wanted:
        members = members.where(Post.story_id.in_(wanted))
    agg = members.group_by(Post.story_id).subquery()
    popularity = case(
        (agg.c.sites > 1, func.coalesce(agg.c.best, 0) + site_bonus * (agg.c.sites - 1)),
        else_=agg.c.best,
    )
    session.execute(
        update(Story)
        .where(Story.id == agg.c.story_id)
        .values(
            members=agg.c.members, sites=agg.c.sites, popularity=popularity, standing=agg.c.standing
        )
        .execution_options(synchronize_session=False)
    )


def refresh_standing(session: Session | Connection, post_id: int) -> None:
    """The standing of ``post_id``'s story, in the caller's transaction."""
    story = session.scalar(select(Post.story_id).where(Post.id == post_id))
    if story is not None:
        _set_standing(session, story)


def _set_standing(conn: Session | Connection, story_id: int) -> None:
    # The story's row first, then its members by a plain read: under READ COMMITTED that
    # read locks nothing and sees every move committed before the row lock was granted.
    conn.execute(select(Story.id).where(Story.id == story_id).with_for_update())
    highest = conn.scalar(
        select(func.coalesce(func.max(standing_rank()), 0)).where(Post.story_id == story_id)
    )
    conn.execute(
        update(Story)
        .where(Story.id == story_id)
        .values(standing=highest)
        .execution_options(synchronize_session=False)
    )


_MOVED = "wagglebot.moved_posts"


def standing_moved(session: Session, post_id: int) -> None:
    """A post's status moved: its story's standing is refreshed once the move commits.

    Not in the move's own transaction: that one holds the post's row (and, in a sweep,
    its other posts') and would then wait for the story's row, while a move of another
    member holds that and waits for its members' rows: a deadlock two sweeps of reposts
    met. After the commit each story is refreshed in a short transaction of its own,
    which holds only the story's row.
    """
    session.info.setdefault(_MOVED, set()).add(post_id)


@event.listens_for(Session, "after_commit")
def _refresh_moved(session: Session) -> None:
    moved = session.info.pop(_MOVED, None)
    if not moved:
        return
    engine = session.get_bind().engine
    with engine.connect() as conn:
        stories = conn.scalars(
            select(Post.story_id).distinct().where(Post.id.in_(moved), Post.story_id.is_not(None))
        ).all()
        conn.rollback()
        for story in sorted(stories):
            with conn.begin():
                _set_standing(conn, story)


@event.listens_for(Session, "after_rollback")
def _forget_moved(session: Session) -> None:
    session.info.pop(_MOVED, None)
