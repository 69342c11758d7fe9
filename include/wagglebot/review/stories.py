"""A person's decisions on stories: approve one member, decline them all, split a post
out of a story, or merge two stories.

A story is made into one Short: approving a member is refused while another member is
published or being made, and declining declines every member still waiting. A split or
merge marks the stories as decided by a person (``stories.decided_by``): later crawls
add new reposts to them but never merge them again on their own.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from wagglebot.core.config import Settings
from wagglebot.core.db.models import Post, Story
from wagglebot.core.db.queries import story_taken_by
from wagglebot.core.db.story_rows import refresh_story_rows
from wagglebot.core.states import PostNotFound, TransitionError, transition
from wagglebot.core.statuses import PostStatus
from wagglebot.crawl.story_table import refresh_stories
from wagglebot.review.decisions import Outcome, decline


class StoryTaken(TransitionError):
    def __init__(self, post_id: int, reason: str) -> None:
        super().__init__(f"post {post_id}: {reason}")
        self.post_id = post_id


class StoryEditRefused(ValueError):
    """A split or merge that cannot be done (a post alone, the same story twice)."""


def approve_story(session: Session, post_ids: Iterable[int], by: str | None = None) -> Outcome:
    """Approve each post (a member a person chose, the main one by default) unless another
    member of its story is already published or being made."""
    moved: list[int] = []
    refused: list[TransitionError] = []
    for post_id in post_ids:
        try:
            taken = story_taken_by(session, post_id, lock=True)
            if taken is not None:
                raise StoryTaken(post_id, taken.reason())
            transition(session, post_id, PostStatus.APPROVED, expected=PostStatus.COLLECTED, by=by)
        except TransitionError as exc:
            session.rollback()
            refused.append(exc)
        else:
            session.commit()
            moved.append(post_id)
    return moved, refused


def members_waiting(session: Session, post_ids: Iterable[int]) -> list[int]:
    """Every COLLECTED post of the stories of ``post_ids`` (a post without a story: itself)."""
    post_ids = list(post_ids)
    stories = select(Post.story_id).where(Post.id.in_(post_ids), Post.story_id.is_not(None))
    found = session.scalars(
        select(Post.id)
        .where(Post.status == PostStatus.COLLECTED, Post.story_id.in_(stories))
        .order_by(Post.id)
    ).all()
    return list(dict.fromkeys([*post_ids, *found]))


def decline_story(session: Session, post_ids: Iterable[int], by: str | None = None) -> Outcome:
    """Decline the stories of ``post_ids``: every member still waiting for review."""
    return decline(session, members_waiting(session, post_ids), by=by)


def _story_of(session: Session, post_id: int) -> int | None:
    found = session.execute(select(Post.story_id).where(Post.id == post_id)).first()
    if found is None:
        raise PostNotFound(post_id)
    return found.story_id


def split_out(session: Session, settings: Settings, post_id: int, by: str) -> int:
    """Take a wrongly grouped post out of its story into a story of its own; returns the
    new story's id. Commits."""
    old = _story_of(session, post_id)
    others = session.scalar(
        select(Post.id).where(Post.story_id == old, Post.id != post_id).limit(1)
    )
    if old is None or others is None:
        raise StoryEditRefused(f"post {post_id} is alone in its story: nothing to split")
    new = Story(main_post_id=post_id, decided_by=by)
    session.add(new)
    session.flush()
    session.execute(update(Post).where(Post.id == post_id).values(story_id=new.id))
    session.execute(update(Story).where(Story.id == old).values(decided_by=by))
    _refresh(session, settings, [old, new.id])
    return new.id


def merge_stories(
    session: Session, settings: Settings, post_id: int, other_id: int, by: str
) -> int:
    """Put ``other_id``'s story (every member) into ``post_id``'s; returns the story's id.
    Commits."""
    into, other = _story_of(session, post_id), _story_of(session, other_id)
    if into is not None and into == other:
        raise StoryEditRefused(f"posts {post_id} and {other_id} are already one story")
    if into is None:  # not grouped yet: it gets its story now
        story = Story(main_post_id=post_id)
        session.add(story)
        session.flush()
        into = story.id
        session.execute(update(Post).where(Post.id == post_id).values(story_id=into))
    moving = Post.story_id == other if other is not None else Post.id == other_id
    session.execute(update(Post).where(moving).values(story_id=into))
    if other is not None:
        session.execute(delete(Story).where(Story.id == other))
    session.execute(update(Story).where(Story.id == into).values(decided_by=by))
    _refresh(session, settings, [into])
    return into


def _refresh(session: Session, settings: Settings, stories: list[int]) -> None:
    refresh_stories(session, stories)
    refresh_story_rows(session, settings.story_site_bonus, stories)
    session.commit()
