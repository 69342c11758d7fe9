"""What the review dashboard's pages show, each page in a fixed handful of queries.

Every function reads one page of rows plus what those rows need (best comments,
latest stage attempts) in batched queries, so a page costs the same number of
round trips whatever its length: no query per post.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from wagglebot.core.db.models import Content, Post, StageRun, Story, Upload
from wagglebot.core.db.queries import BestComment, best_comments
from wagglebot.core.statuses import PostStatus, Stage, StoryStanding, UploadState
from wagglebot.publish.platforms import PLATFORMS

PREVIEW_CHARS = 1500  # of a body, in a list; the whole text is read for one post on demand
Sort = Literal["popularity", "expected", "newest", "views", "likes", "score"]
# Where a story stands: waiting for review, or taken (its reposts stay out of the Inbox).
Standing = Literal["waiting", "published", "in_production", "declined"]


# --- inbox -------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxFilter:
    sites: tuple[str, ...] = ()
    images: Literal["any", "with", "without", "video"] = "any"
    text: str = ""
    since: date | None = None  # days in the dashboard's time zone, both ends included
    until: date | None = None
    sort: Sort = "popularity"
    timezone: str = "Asia/Seoul"
    standing: Standing = "waiting"

    def conditions(self, post=Post) -> list:
        """The filter on ``post`` (the Post entity or an alias of it)."""
        found = []
        if self.sites:
            found.append(post.site_code.in_(self.sites))
        if self.images == "with":
            found.append(post.image_count > 0)
        elif self.images == "without":
            found.append(post.image_count == 0)
        elif self.images == "video":
            found.append(func.json_length(post.videos) > 0)
        if text := self.text.strip():
            found.append(
                or_(
                    post.title.contains(text, autoescape=True),
                    post.content.contains(text, autoescape=True),
                )
            )
        if self.since:
            found.append(post.dated_at >= self._utc(self.since))
        if self.until:
            found.append(post.dated_at < self._utc(self.until + timedelta(days=1)))
        return found

    def _utc(self, day: date) -> datetime:
        local = datetime.combine(day, time(), tzinfo=ZoneInfo(self.timezone))
        return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)  # stored naive UTC


@dataclass(frozen=True)
class PostCard:
    """A post as the reviewer sees it in a list."""

    id: int
    site_code: str
    url: str
    title: str
    preview: str  # the body's first PREVIEW_CHARS characters
    content_chars: int
    images: list[str]
    views: int | None
    likes: int | None
    comment_count: int | None
    score: float | None
    dated_at: datetime
    status_changed_at: datetime
    status_changed_by: str | None
    videos: list[dict] | None  # {"kind": "file" | "player" | "youtube", "url", "poster"}
    comments: list[BestComment]
    status: PostStatus = PostStatus.COLLECTED
    story_id: int | None = None
    video_url: str | None = None  # where it is published, once it is
    expected_views: float | None = None  # in its Short's first 24 h (analytics.learn)

    @property
    def video_files(self) -> list[dict]:
        """The post's own videos, as files or on the site's own player (the Short shows
        their posters and first seconds)."""
        return [v for v in self.videos or [] if v.get("kind") in ("file", "player")]

    @property
    def youtube_videos(self) -> list[str]:
        """Embedded YouTube players' watch addresses: YouTube's videos, not the post's."""
        return [v["url"] for v in self.videos or [] if v.get("kind") == "youtube"]

    @property
    def youtube_only(self) -> bool:
        """All the post shows is a YouTube player: its Short can show none of it."""
        return bool(self.youtube_videos) and not self.images and not self.video_files


_CARD_COLUMNS = (
    Post.id,
    Post.site_code,
    Post.url,
    Post.title,
    func.left(Post.content, PREVIEW_CHARS).label("preview"),
    func.char_length(Post.content).label("content_chars"),
    Post.images,
    Post.views,
    Post.likes,
    Post.comment_count,
    Post.score,
    Post.dated_at,
    Post.status_changed_at,
    Post.status_changed_by,
    Post.videos,
    Post.status,
    Post.story_id,
    Post.expected_views,
)


def _page(stmt: Select, page: int, per_page: int) -> Select:
    """Page ``page`` (1-based) of ``per_page`` rows."""
    return stmt.limit(per_page).offset(max(page - 1, 0) * per_page)


def _cards(session: Session, rows: list, comments: int) -> list[PostCard]:
    best = best_comments(session, [r.id for r in rows], comments) if comments else {}
    fields = PostCard.__dataclass_fields__
    return [
        PostCard(
            **{k: v for k, v in row._asdict().items() if k in fields}, comments=best.get(row.id, [])
        )
        for row in rows
    ]


def inbox_sites(session: Session) -> list[str]:
    """The sites that have posts waiting for review.

    The distinct sites first (a loose scan of the (site_code, status) index: a few
    rows), then one index probe each; filtering by status first reads every
    waiting post instead (0.4 ms against 200 ms with 100,000 posts).
    """
    sites = select(Post.site_code).distinct().subquery()
    waiting = aliased(Post)
    has_waiting = exists().where(
        waiting.site_code == sites.c.site_code, waiting.status == PostStatus.COLLECTED
    )
    return list(
        session.scalars(select(sites.c.site_code).where(has_waiting).order_by(sites.c.site_code))
    )


@dataclass(frozen=True)
class StoryCard:
    """One story in the Inbox: its main post leads, its other members are "also on"."""

    story_id: int | None  # None: a post not grouped yet, alone
    main: PostCard
    members: list[PostCard]  # every member, the main post first
    popularity: float | None
    standing: Standing

    @property
    def id(self) -> int:
        return self.main.id

    @property
    def others(self) -> list[PostCard]:
        return self.members[1:]

    @property
    def waiting(self) -> list[PostCard]:
        return [m for m in self.members if m.status is PostStatus.COLLECTED]

    @property
    def sites(self) -> list[str]:
        return list(dict.fromkeys(m.site_code for m in self.members))

    @property
    def taken_by(self) -> PostCard | None:
        """The member that took the story: published, else being made, else declined."""
        rank = {m.id: StoryStanding.of(m.status) for m in self.members}
        taken = [m for m in self.members if rank[m.id] is not StoryStanding.WAITING]
        return max(taken, key=lambda m: rank[m.id], default=None)  # the first of the highest


def _member_matches(flt: InboxFilter) -> list:
    """A story matches the filter when one of its waiting members does."""
    if not flt.conditions(Post):
        return []
    member = aliased(Post)
    return [
        exists().where(
            member.story_id == Post.story_id,
            member.status == PostStatus.COLLECTED,
            *flt.conditions(member),
        )
    ]


_LEAD_COLUMNS = (
    Post.id.label("post_id"),
    Post.story_id.label("story_id"),
    Post.dated_at,
    Post.views,
    Post.likes,
    Post.score,
    Post.expected_views.label("expected"),
)


def _grouped_leads(flt: InboxFilter) -> Select:
    """One row per grouped story under the filter: the post that leads its card. A waiting
    story is led by its main post (every member waits), found through the stories'
    (standing, popularity) index or the posts' own sort indexes; a taken story by its
    first member still waiting."""
    standing = StoryStanding[flt.standing.upper()]
    collected = Post.status == PostStatus.COLLECTED
    # Popularity ties are broken by the story's id: the (standing, popularity) index then
    # holds the whole order (its entries end with the id), and nothing is sorted.
    tiebreak = Story.id if flt.sort == "popularity" else Post.id
    stmt = select(*_LEAD_COLUMNS, tiebreak.label("tiebreak"), Story.popularity.label("popularity"))
    if standing is StoryStanding.WAITING:
        stmt = stmt.join(Story, (Story.id == Post.story_id) & (Story.main_post_id == Post.id))
    else:
        first = aliased(Post)
        first_waiting = (
            select(func.min(first.id))
            .where(first.story_id == Post.story_id, first.status == PostStatus.COLLECTED)
            .scalar_subquery()
        )
        stmt = stmt.join(Story, Story.id == Post.story_id).where(Post.id == first_waiting)
    return stmt.where(Story.standing == standing, collected, *_member_matches(flt))


def _lone_posts(flt: InboxFilter) -> Select:
    """Posts not grouped yet (crawled moments ago, or before an upgrade): a card each."""
    return select(*_LEAD_COLUMNS, Post.id.label("tiebreak"), Post.score.label("popularity")).where(
        Post.story_id.is_(None), Post.status == PostStatus.COLLECTED, *flt.conditions(Post)
    )


def _count(session: Session, flt: InboxFilter) -> int:
    """Stories under the filter: counted from the stories alone when nothing filters (every
    member of a waiting story waits), else from the matching waiting posts' stories."""
    standing = StoryStanding[flt.standing.upper()]
    if standing is StoryStanding.WAITING and not flt.conditions(Post):
        grouped = session.scalar(
            select(func.count()).where(Story.standing == standing, Story.members > 0)
        )
    else:
        grouped = session.scalar(
            select(func.count(Post.story_id.distinct()))
            .join(Story, Story.id == Post.story_id)
            .where(
                Story.standing == standing,
                Post.status == PostStatus.COLLECTED,
                *flt.conditions(Post),
            )
        )
    if standing is not StoryStanding.WAITING:
        return grouped or 0
    lone = session.scalar(select(func.count()).select_from(_lone_posts(flt).subquery()))
    return (grouped or 0) + (lone or 0)


def inbox_page(
    session: Session, flt: InboxFilter, page: int, per_page: int
) -> tuple[list[StoryCard], int]:
    """One page of stories with posts waiting for review under the filter (a story with a
    waiting member that matches), and how many match in all.

    ``flt.standing`` picks the stories: "waiting" (nothing took them yet: the Inbox), or
    those a member already took (published, being made, declined), whose later reposts
    are kept out of the Inbox and shown there. Grouped stories and posts not grouped yet
    are read in two queries, each sorted and cut at the page's end through an index, and
    merged here: a page reads its own rows, not every waiting post (docs/benchmarks.md).
    """
    key = flt.sort if flt.sort != "newest" else "dated_at"
    upto = max(page, 1) * per_page
    queries = [_grouped_leads(flt)] + ([_lone_posts(flt)] if flt.standing == "waiting" else [])
    rows = []
    for stmt in queries:
        sub = stmt.subquery()
        rows += session.execute(
            select(sub).order_by(sub.c[key].desc(), sub.c.tiebreak.desc()).limit(upto)
        ).all()
    # DESC as MariaDB sorts it: highest first, NULL (a count the site does not show) last.
    rows.sort(
        key=lambda r: (getattr(r, key) is not None, getattr(r, key), r.tiebreak), reverse=True
    )
    rows = rows[upto - per_page : upto]
    members = _story_members(session, rows)
    cards = []
    for row in rows:
        posts = members.get(row.story_id or -row.post_id, [])
        if not any(p.id == row.post_id for p in posts):
            continue  # grouped again between the two reads
        posts.sort(key=lambda p: (p.id != row.post_id, p.status is not PostStatus.COLLECTED))
        cards.append(StoryCard(row.story_id, posts[0], posts, row.popularity, flt.standing))
    return cards, _count(session, flt)


def _story_members(session: Session, rows: list) -> dict[int, list[PostCard]]:
    """Every member of these rows' stories (a post not grouped: itself, keyed by its
    negative id), with its best comment and, once published, its video's address."""
    stories = [r.story_id for r in rows if r.story_id is not None]
    alone = [r.post_id for r in rows if r.story_id is None]
    if not rows:
        return {}
    published_at = (  # where it is published, on any platform (YouTube's link first)
        select(Upload.video_url)
        .where(
            Upload.post_id == Post.id, Upload.state == UploadState.PUBLISHED, Upload.video_url != ""
        )
        .order_by(Upload.platform != "youtube")
        .limit(1)
        .correlate(Post)
        .scalar_subquery()
    )
    found_rows = session.execute(
        select(*_CARD_COLUMNS, published_at.label("video_url"))
        .where(or_(Post.story_id.in_(stories), Post.id.in_(alone)))
        .order_by(Post.likes.desc(), Post.id)
    ).all()
    found: dict[int, list[PostCard]] = {}
    for card in _cards(session, found_rows, comments=1):
        found.setdefault(card.story_id or -card.id, []).append(card)
    return found


def full_text(session: Session, post_id: int) -> str:
    return session.scalar(select(Post.content).where(Post.id == post_id)) or ""


# --- script review -----------------------------------------------------------------------


@dataclass(frozen=True)
class ScriptCard:
    post: PostCard
    script: str
    raw: str | None
    engine: str | None


def scripts_page(session: Session, page: int, per_page: int) -> tuple[list[ScriptCard], int]:
    """SCRIPTED posts, the longest waiting first, with the script the LLM wrote."""
    waiting = Post.status == PostStatus.SCRIPTED
    total = session.scalar(select(func.count()).where(waiting))
    stmt = (
        select(*_CARD_COLUMNS, Content.summary_text, Content.script_raw, Content.script_engine)
        .join(Content, Content.post_id == Post.id)
        .where(waiting)
        .order_by(Post.status_changed_at, Post.id)
    )
    rows = session.execute(_page(stmt, page, per_page)).all()
    posts = _cards(session, rows, comments=3)
    return [
        ScriptCard(post, row.summary_text or "", row.script_raw, row.script_engine)
        for post, row in zip(posts, rows, strict=True)
    ], total or 0


# --- progress ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """A post's latest stage attempt, with where it ran in Airflow."""

    stage: str
    attempt: int
    outcome: str
    started_at: datetime
    finished_at: datetime | None
    engine: str | None
    error: str | None
    dag_id: str | None
    run_id: str | None
    task_id: str | None
    map_index: int | None
    try_number: int | None


def latest_attempts(session: Session, post_ids: list[int]) -> dict[int, Attempt]:
    """Each post's most recent stage attempt, in one query."""
    if not post_ids:
        return {}
    rank = func.row_number().over(partition_by=StageRun.post_id, order_by=StageRun.id.desc())
    ranked = select(StageRun, rank.label("rank")).where(StageRun.post_id.in_(post_ids)).subquery()
    rows = session.execute(select(ranked).where(ranked.c.rank == 1)).mappings().all()
    fields = Attempt.__dataclass_fields__
    # stage and outcome come back as StrEnum members: strings already.
    return {row["post_id"]: Attempt(**{k: row[k] for k in fields}) for row in rows}


@dataclass(frozen=True)
class InFlight:
    id: int
    site_code: str
    title: str
    claimed_at: datetime
    last_activity: datetime
    doing: str  # "script (running)", "waiting for tts" ...
    stalled: bool


# What a post waits for after each production stage (upload is publishing's, not the sweep's).
NEXT_STAGE = {Stage.LLM: Stage.TTS.value, Stage.TTS: Stage.RENDER.value, Stage.RENDER: "finish"}


def in_flight(session: Session, stall_after: timedelta) -> list[InFlight]:
    """Posts in production, oldest first, each with what it is doing and whether it stalled."""
    now = session.scalar(select(func.now(6)))
    rows = session.execute(
        select(Post.id, Post.site_code, Post.title, Post.status_changed_at)
        .where(Post.status == PostStatus.PROCESSING)
        .order_by(Post.status_changed_at, Post.id)
    ).all()
    latest = latest_attempts(session, [r.id for r in rows])
    out = []
    for row in rows:
        attempt = latest.get(row.id)
        if attempt is None or attempt.started_at < row.status_changed_at:
            doing, activity = "claimed, waiting for the llm stage", row.status_changed_at
        elif attempt.outcome == "running":
            doing, activity = (
                f"{attempt.stage} (attempt {attempt.attempt}, running)",
                attempt.started_at,
            )
        else:
            after = NEXT_STAGE.get(attempt.stage, "finish")
            doing = f"{attempt.stage} {attempt.outcome}, waiting for {after}"
            activity = attempt.finished_at or attempt.started_at
        out.append(
            InFlight(
                row.id,
                row.site_code,
                row.title,
                row.status_changed_at,
                activity,
                doing,
                stalled=now - activity > stall_after,
            )
        )
    return out


@dataclass(frozen=True)
class Queue:
    waiting: int
    oldest: datetime | None


def sweep_queue(session: Session) -> Queue:
    """Approved posts no sweep has claimed yet."""
    n, oldest = session.execute(
        select(func.count(), func.min(Post.status_changed_at)).where(
            Post.status == PostStatus.APPROVED
        )
    ).one()
    return Queue(n, oldest)


@dataclass(frozen=True)
class Failure:
    id: int
    site_code: str
    title: str
    error: str
    failed_at: datetime
    attempt: Attempt | None  # the last stage attempt: where its log is


def failures_page(session: Session, page: int, per_page: int) -> tuple[list[Failure], int]:
    failed = Post.status == PostStatus.FAILED
    total = session.scalar(select(func.count()).where(failed))
    stmt = (
        select(Post.id, Post.site_code, Post.title, Post.last_error, Post.status_changed_at)
        .where(failed)
        .order_by(Post.status_changed_at.desc(), Post.id.desc())
    )
    rows = session.execute(_page(stmt, page, per_page)).all()
    latest = latest_attempts(session, [r.id for r in rows])
    return [
        Failure(
            r.id, r.site_code, r.title, r.last_error or "", r.status_changed_at, latest.get(r.id)
        )
        for r in rows
    ], total or 0


# --- gallery -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlatformUpload:
    """A Short's publication on one platform, as far as it got (its uploads row)."""

    platform: str
    state: UploadState
    requested_at: datetime | None  # None: never asked, or the request was withdrawn (note)
    requested_by: str | None
    title: str | None  # a person's title, if they gave one
    description: str | None
    privacy: str | None  # as asked; once published, as the platform answered
    publish_at: datetime | None
    bytes_sent: int
    total_bytes: int | None
    heartbeat_at: datetime | None
    video_url: str | None
    uploaded_at: datetime | None
    note: str | None  # why it waits (quota, off) or the platform's refusal


@dataclass(frozen=True)
class Video:
    id: int
    site_code: str
    url: str
    title: str
    status: PostStatus
    script: str
    script_engine: str | None
    script_reviewed_by: str | None
    script_edited: bool
    video_path: str
    thumbnail_path: str | None
    video_seconds: float | None
    made_at: datetime
    platforms: dict[str, PlatformUpload]  # in PLATFORMS' order; only those it has a row on

    def state(self, platform: str) -> UploadState | None:
        upload = self.platforms.get(platform)
        return upload.state if upload else None


_UPLOAD_COLUMNS = tuple(getattr(Upload, f) for f in PlatformUpload.__dataclass_fields__)
MADE = (PostStatus.RENDERED, PostStatus.PUBLISHING, PostStatus.UPLOADED)


def platform_uploads(session: Session, post_ids: list[int]) -> dict[int, dict[str, PlatformUpload]]:
    """Each post's uploads by platform (in PLATFORMS' order), in one query. A published
    upload's privacy is what the platform answered (contents.upload_meta), not what was
    asked: YouTube's choice means nothing to TikTok."""
    if not post_ids:
        return {}
    rows = session.execute(
        select(Upload.post_id, Content.upload_meta, *_UPLOAD_COLUMNS)
        .outerjoin(Content, Content.post_id == Upload.post_id)
        .where(Upload.post_id.in_(post_ids))
    ).all()
    order = {p: i for i, p in enumerate(PLATFORMS)}
    found: dict[int, dict[str, PlatformUpload]] = {}
    for row in sorted(rows, key=lambda r: (order.get(r.platform, len(order)), r.platform)):
        upload = PlatformUpload(*row[2:])
        if upload.state is UploadState.PUBLISHED and (
            said := _answered(row.upload_meta, row.platform)
        ):
            upload = replace(upload, privacy=said)
        found.setdefault(row.post_id, {})[row.platform] = upload
    return found


def _answered(meta: object, platform: str) -> str | None:
    """The privacy the platform answered, from contents.upload_meta ({platform: {...}})."""
    entry = meta.get(platform) if isinstance(meta, dict) else None
    return entry.get("privacy") if isinstance(entry, dict) else None


def _videos(
    session: Session, statuses: tuple[PostStatus, ...], page: int, per_page: int
) -> tuple[list[Video], int]:
    made = Post.status.in_(statuses)
    total = session.scalar(select(func.count()).where(made))
    stmt = (
        select(
            Post.id,
            Post.site_code,
            Post.url,
            Post.title,
            Post.status,
            Content.summary_text,
            Content.script_engine,
            Content.script_reviewed_by,
            Content.script_edited,
            Content.video_path,
            Content.thumbnail_path,
            Content.video_seconds,
            Post.status_changed_at,
        )
        .join(Content, Content.post_id == Post.id)
        .where(made)
        .order_by(Post.status_changed_at.desc(), Post.id.desc())
    )
    rows = session.execute(_page(stmt, page, per_page)).all()
    uploads = platform_uploads(session, [r.id for r in rows])
    return [
        Video(*row[:5], row[5] or "", *row[6:], platforms=uploads.get(row.id, {})) for row in rows
    ], total or 0


def gallery_page(session: Session, page: int, per_page: int) -> tuple[list[Video], int]:
    """Made Shorts, newest first (a post becomes RENDERED with its contents row), each with
    its uploads on every platform."""
    return _videos(session, MADE, page, per_page)


# --- published (the gallery's videos that are on a platform) -------------------------------


def published_page(session: Session, page: int, per_page: int) -> tuple[list[Video], int]:
    """Shorts published on at least one platform (the post is UPLOADED then), most recently
    published first, each with every platform's upload: published, failed or on its way."""
    return _videos(session, (PostStatus.UPLOADED,), page, per_page)


@dataclass(frozen=True)
class UploadInFlight:
    id: int
    platform: str
    title: str
    bytes_sent: int
    total_bytes: int | None
    heartbeat_at: datetime | None
    note: str | None


def uploads_in_flight(session: Session) -> list[UploadInFlight]:
    """Each platform's upload a run holds now (a post may upload to several at once), with
    the bytes sent so far; the longest running first."""
    rows = session.execute(
        select(
            Post.id,
            Upload.platform,
            Post.title,
            Upload.bytes_sent,
            Upload.total_bytes,
            Upload.heartbeat_at,
            Upload.note,
        )
        .join(Upload, Upload.post_id == Post.id)
        # by platform first: the (platform, state) index finds them
        .where(Upload.platform.in_(PLATFORMS), Upload.state == UploadState.UPLOADING)
        .order_by(Upload.requested_at, Post.id, Upload.platform)
    ).all()
    return [UploadInFlight(*row) for row in rows]
