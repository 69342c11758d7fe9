"""What a crawl yields per post, and the checks an item must pass before it is stored."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

MAX_TITLE = 512
MAX_CONTENT = 200_000  # characters; a narration needs far less, MEDIUMTEXT holds far more
MAX_COMMENT = 5_000
MAX_AUTHOR = 100
MAX_IMAGES = 30


class InvalidItem(ValueError):
    """The item cannot be stored; ``reason`` is a short stat key (e.g. 'missing_title')."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass
class CommentItem:
    content: str
    author: str | None = None
    likes: int | None = None
    origin_comment_id: str | None = None  # the site's own id, when it shows one

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(f"{self.author or ''}\0{self.content}".encode()).hexdigest()

    @property
    def key(self) -> str:
        """Unique per post: the site's comment id, else a hash of author and text."""
        if self.origin_comment_id:
            return f"id:{self.origin_comment_id}"[:80]
        return f"sha256:{self.content_hash}"


@dataclass
class PostItem:
    site_code: str
    origin_id: str
    url: str
    title: str
    content: str
    images: list[str] = field(default_factory=list)
    # {"kind": "file" | "youtube", "url": ..., "poster": picture URL or None}
    videos: list[dict[str, str | None]] = field(default_factory=list)
    views: int | None = None
    likes: int | None = None
    comment_count: int | None = None
    posted_at: datetime | None = None
    comments: list[CommentItem] = field(default_factory=list)

    def validated(self) -> PostItem:
        """Check and trim in place (returns self), or raise InvalidItem with a reason."""
        where = f"{self.site_code}/{self.origin_id or '?'} ({self.url})"
        if not self.origin_id:
            raise InvalidItem("missing_origin_id", where)
        if not self.title:
            raise InvalidItem("missing_title", where)
        if not self.content and not self.images and not self.videos:
            raise InvalidItem("empty_post", f"{where} has no text, pictures or videos")
        for name in ("views", "likes", "comment_count"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < 2**31:
                raise InvalidItem(f"bad_{name}", f"{where}: {value}")
        self.title = _trim(self.title, MAX_TITLE)
        self.content = _trim(self.content, MAX_CONTENT)
        self.images = list(dict.fromkeys(u for u in self.images if len(u) <= 1024))[:MAX_IMAGES]
        self.videos = [v for v in self.videos if len(v["url"] or "") <= 1024][:MAX_IMAGES]
        comments: dict[str, CommentItem] = {}
        for comment in self.comments:
            if not comment.content:
                continue
            comment.content = _trim(comment.content, MAX_COMMENT)
            comment.author = _trim(comment.author, MAX_AUTHOR) if comment.author else None
            comments.setdefault(comment.key, comment)  # best comments repeat in the full list
        self.comments = list(comments.values())
        return self


def _trim(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
