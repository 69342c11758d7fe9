"""Stories kept in MariaDB: every stored post grouped into its story as it is crawled.

The decisions are crawl.stories.StoryIndex's; here its storage lives in tables: each
post's LSH bands in ``story_bands`` (a new post's candidates are one indexed lookup of
its 37 band keys, however many posts are stored), its pictures' perceptual hashes in
``story_pictures`` (read once per grouping run and compared in numpy), and the stories
themselves in ``stories`` with their main post, communities and combined popularity.

Posts are grouped oldest first under a MariaDB named lock, so two crawl tasks storing
reposts of one story at the same moment still see each other. A post that cannot be
compared is never lost: it gets a story of its own.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from datasketch import MinHash
from sqlalchemy import Engine, case, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from wagglebot.core.config import Settings
from wagglebot.core.db.models import Post, Story, StoryPicture
from wagglebot.core.db.story_rows import refresh_story_rows
from wagglebot.core.post_files import previews_folder
from wagglebot.crawl.sites import picture_sources
from wagglebot.crawl.stories import (
    LSH_BANDS,
    LSH_ROWS,
    StoryIndex,
    StoryRules,
    is_repost_title,
    normalise,
    picture_hash,
)
from wagglebot.crawl.stories import Post as IndexedPost

log = logging.getLogger(__name__)

LOCK_NAME = "wagglebot.stories"
LOCK_WAIT_S = 600
BATCH = 200


# Only placeholders are joined in: one (band, bucket) pair per band.
_PAIRS = ", ".join(["(%s, %s)"] * LSH_BANDS)
_CANDIDATES_SQL = f"SELECT DISTINCT post_id FROM story_bands WHERE (band, bucket) IN ({_PAIRS})"  # noqa: S608


class StoriesBusy(RuntimeError):
    """Another grouping run holds the lock longer than we wait."""


def band_keys(sig: MinHash) -> list[tuple[int, int]]:
    """The signature's LSH bands as (band, bucket) keys: a band's rows hashed to 32 bits
    (a false candidate from a bucket collision is rare, and the exact check drops it;
    small keys keep the band index in MariaDB's memory)."""
    values = np.asarray(sig.hashvalues, dtype="<u8")
    return [
        (
            band,
            int.from_bytes(
                hashlib.blake2b(
                    values[band * LSH_ROWS : (band + 1) * LSH_ROWS].tobytes(), digest_size=4
                ).digest(),
                "little",
                signed=True,
            ),
        )
        for band in range(LSH_BANDS)
    ]


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


class StoryTable(StoryIndex):
    """StoryIndex over the database. Reads what it needs; keeps a batch's own writes (its
    posts' stories, bands and pictures) in memory, where its later posts find them too,
    until ``flush`` writes them in three statements (a round trip per post saved thrice)."""

    def __init__(self, session: Session, rules: StoryRules) -> None:
        super().__init__(rules)
        self.session = session
        rows = session.execute(select(StoryPicture.phash, StoryPicture.post_id)).all()
        self._pictures = np.array([h for h, _ in rows], dtype=np.int64).view(np.uint64)
        self._picture_posts = [p for _, p in rows]
        self._story_of: dict[int, int] = {}
        self._decided: dict[int, bool] = {}
        self._keys: tuple[MinHash, list[tuple[int, int]]] | None = None
        self._pending_bands: dict[tuple[int, int], list[int]] = {}
        self._pending_texts: dict[int, str] = {}
        self._pending_pictures: list[dict] = []
        self._pending_posts: list[int] = []
        self.joined: set[int] = set()  # stories this batch added a post to, or merged
        self.started_by: dict[int, int] = {}  # story -> the post it was started for

    def _band_keys(self, sig: MinHash) -> list[tuple[int, int]]:
        if self._keys is None or self._keys[0] is not sig:  # the post being added's
            self._keys = (sig, band_keys(sig))
        return self._keys[1]

    def candidates(self, sig: MinHash) -> Iterable[int]:
        keys = self._band_keys(sig)
        # Plain SQL on the session's connection: this runs once per post, and building and
        # compiling a 37-pair IN through the ORM cost more than the lookup itself.
        stored = [
            row[0]
            for row in self.session.connection().exec_driver_sql(
                _CANDIDATES_SQL, tuple(v for key in keys for v in key)
            )
        ]
        pending = [p for key in keys for p in self._pending_bands.get(key, ())]
        return list(dict.fromkeys([*stored, *pending]))

    def texts(self, post_ids: list[int]) -> dict[int, str]:
        found = {p: self._pending_texts[p] for p in post_ids if p in self._pending_texts}
        if stored := [p for p in post_ids if p not in found]:
            rows = self.session.execute(
                select(Post.id, Post.title, Post.content).where(Post.id.in_(stored))
            )
            found |= {pid: normalise(title, body) for pid, title, body in rows}
        return found

    def story(self, post_id: int) -> int:
        if post_id not in self._story_of:
            self._story_of[post_id] = self.session.scalar(
                select(Post.story_id).where(Post.id == post_id)
            )
        return self._story_of[post_id]

    def new_story(self, post_id: int) -> int:
        story = self.session.connection().execute(insert(Story).values(main_post_id=post_id))
        story_id = story.inserted_primary_key[0]
        self.started_by[story_id] = post_id
        return story_id

    def _by_person(self, story: int) -> bool:
        if story not in self._decided:
            self._decided[story] = (
                self.session.scalar(select(Story.decided_by).where(Story.id == story)) is not None
            )
        return self._decided[story]

    def merge(self, story: int, into: int) -> None:
        if self._by_person(story) or self._by_person(into):
            return  # a person split or merged one of them: their grouping stands
        self.flush()
        self.session.execute(update(Post).where(Post.story_id == story).values(story_id=into))
        self.session.execute(delete(Story).where(Story.id == story))
        self._story_of = {p: into if s == story else s for p, s in self._story_of.items()}
        self.joined.discard(story)
        self.joined.add(into)
        log.info("stories %s and %s are one: merged into %s", story, into, into)

    def keep(self, post: IndexedPost, sig: MinHash | None, story: int) -> None:
        if sig is not None:
            for key in self._band_keys(sig):
                self._pending_bands.setdefault(key, []).append(post.post_id)
            self._pending_texts[post.post_id] = post.text
        if post.pictures:
            self._pending_pictures += [
                {"post_id": post.post_id, "position": i, "phash": _signed(v)}
                for i, v in enumerate(post.pictures)
            ]
            self._pictures = np.concatenate(
                [self._pictures, np.array(post.pictures, dtype=np.uint64)]
            )
            self._picture_posts += [post.post_id] * len(post.pictures)
        self._story_of[post.post_id] = story
        self._pending_posts.append(post.post_id)
        if self.started_by.get(story) != post.post_id:
            self.joined.add(story)  # its main post may change

    def flush(self) -> None:
        """Write the batch's posts' stories, bands and pictures (the caller commits)."""
        placed = {p: self._story_of[p] for p in self._pending_posts}
        if placed:
            self.session.execute(
                update(Post)
                .where(Post.id.in_(placed))
                .values(story_id=case(placed, value=Post.id))
                .execution_options(synchronize_session=False)
            )
        if rows := [(b, k, p) for (b, k), posts in self._pending_bands.items() for p in posts]:
            # The driver folds these into multi-row INSERTs: tens of thousands of band rows
            # in a few statements, without the ORM's per-row bookkeeping.
            self.session.connection().exec_driver_sql(
                "INSERT INTO story_bands (band, bucket, post_id) VALUES (%s, %s, %s)", rows
            )
        if self._pending_pictures:
            self.session.execute(insert(StoryPicture), self._pending_pictures)
        self._pending_bands, self._pending_texts, self._pending_pictures = {}, {}, []
        self._pending_posts = []


@dataclass
class GroupResult:
    grouped: int = 0  # posts given a story
    joined: int = 0  # ...of which joined a story that had other posts
    pictures: int = 0  # pictures hashed
    picture_problems: list[str] = field(default_factory=list)


@contextmanager
def stories_lock(engine: Engine, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    """One grouping run at a time, across processes and machines (a MariaDB named lock,
    held on its own connection so the grouping session's commits do not drop it)."""
    with engine.connect() as conn:
        got = conn.scalar(
            text("SELECT GET_LOCK(:name, :wait)"), {"name": LOCK_NAME, "wait": wait_s}
        )
        if got != 1:
            raise StoriesBusy(f"another run has been grouping stories for over {wait_s:.0f}s")
        try:
            yield
        finally:
            conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": LOCK_NAME})


def _picture_hashes(
    posts: list, settings: Settings, result: GroupResult
) -> dict[int, list[int | None]]:
    """Each post's first pictures (video posters first), fetched as the dashboard fetches
    its previews (same checks, same cache) and hashed; a picture that cannot be had is
    left out with its reason."""
    from wagglebot.review.picture_preview import PicturePreviews

    previews = PicturePreviews(previews_folder(settings), user_agent=settings.user_agent)
    hashes: dict[int, list[int | None]] = {}
    for post in posts:
        posters = [v["poster"] for v in post.videos or [] if v.get("poster")]
        urls = list(dict.fromkeys(posters + list(post.images or [])))[: settings.story_pictures]
        found = previews.get_many(urls, picture_sources(post.site_code, settings), post.url)
        hashes[post.id] = []
        for picture in found:
            if picture.data is None:
                result.picture_problems.append(f"post {post.id}: {picture.url}: {picture.problem}")
                continue
            try:
                hashes[post.id].append(picture_hash(picture.data))
                result.pictures += 1
            except OSError as exc:
                result.picture_problems.append(f"post {post.id}: {picture.url}: {exc}")
    return hashes


def group_new_posts(session: Session, settings: Settings) -> GroupResult:
    """Give every post without a story its story, oldest first; then refresh every story's
    row (the sites' scores move with each crawl). Commits each batch."""
    result = GroupResult()
    with stories_lock(session.get_bind()):
        table = StoryTable(session, StoryRules.from_settings(settings))
        after = 0
        while batch := session.scalars(
            select(Post)
            .where(Post.story_id.is_(None), Post.id > after)
            .order_by(Post.id)
            .limit(BATCH)
        ).all():
            after = batch[-1].id
            hashes = _picture_hashes(batch, settings, result)
            for post in batch:
                story = table.add(post.id, post.title, post.content, hashes.get(post.id, ()))
                result.grouped += 1
                result.joined += table.started_by.get(story) != post.id
            table.flush()
            refresh_stories(session, table.joined)
            table.joined.clear()
            session.commit()
        refresh_story_rows(session, settings.story_site_bonus)  # every story: scores moved
        session.commit()
    for problem in result.picture_problems[:20]:
        log.info("picture not compared: %s", problem)
    return result


def group_stored_posts(settings: Settings) -> dict:
    """group_new_posts in a session of its own, for the crawl DAG's task and the
    `./wagglebot stories` backfill: its figures, ready for XCom and a person."""
    from wagglebot.core.db import settings_session

    with settings_session(settings) as session:
        result = group_new_posts(session, settings)
        stories, several = session.execute(
            select(func.count(), func.coalesce(func.sum(case((Story.sites > 1, 1), else_=0)), 0))
        ).one()
    return {
        "grouped": result.grouped,
        "joined": result.joined,
        "pictures": result.pictures,
        "pictures_not_compared": len(result.picture_problems),
        "stories": stories,
        "stories_on_several_sites": int(several),
    }


def _main_post(members: list) -> int:
    """The story's main post: one that is not itself marked as a repost ("(펌)",
    "[네이트판]"), then the most text, then the first posted."""
    return min(
        members,
        key=lambda m: (is_repost_title(m.title), -m.chars, m.dated_at, m.id),
    ).id


def refresh_stories(session: Session, stories: Iterable[int]) -> None:
    """Choose the main post of each of ``stories`` again (their members changed)."""
    stories = list(stories)
    if not stories:
        return
    rows = session.execute(
        select(
            Post.id,
            Post.story_id,
            Post.title,
            (func.char_length(Post.title) + func.char_length(Post.content)).label("chars"),
            Post.dated_at,
        ).where(Post.story_id.in_(stories))
    ).all()
    members: dict[int, list] = {}
    for row in rows:
        members.setdefault(row.story_id, []).append(row)
    if members:
        main = {story: _main_post(posts) for story, posts in members.items()}
        session.execute(
            update(Story)
            .where(Story.id.in_(main))
            .values(main_post_id=case(main, value=Story.id))
            .execution_options(synchronize_session=False)
        )
