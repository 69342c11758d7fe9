"""Shared by the crawl tests: expected values, and posts in one comparable shape."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from wagglebot.core.db.models import Comment, Post
from wagglebot.crawl.items import PostItem
from wagglebot.crawl.parsing import SITE_ZONE

REPO = Path(__file__).resolve().parents[1]
EXPECTED_DIR = REPO / "tests" / "crawl_expected"
SAMPLE_DIR = REPO / "sample_site"
SITES = sorted(p.stem for p in EXPECTED_DIR.glob("*.yaml"))


def expected(site_code: str, base_url: str) -> dict:
    """A site's expected values for pages served at base_url.

    Image URLs may say {base} (the site's own images, served by the sample site)
    or {scheme} (a protocol-relative URL, resolved against the page's scheme).
    """
    data = yaml.safe_load((EXPECTED_DIR / f"{site_code}.yaml").read_text(encoding="utf-8"))
    scheme = base_url.split(":", 1)[0]
    for post in data["posts"]:
        post.setdefault("videos", [])  # most posts have none; the files say so only when not
        for video in post["videos"]:
            for key in ("url", "poster"):
                if video.get(key):
                    video[key] = video[key].replace("{base}", base_url).replace("{scheme}", scheme)
            video.setdefault("poster", None)
        post["images"] = [
            u.replace("{base}", base_url).replace("{scheme}", scheme) for u in post["images"]
        ]
        post["url"] = base_url + post.pop("path")
        post["posted_at"] = str(post["posted_at"]) if post["posted_at"] else None
    return data


def _in_seoul(stored: datetime) -> datetime:
    return stored.replace(tzinfo=UTC).astimezone(SITE_ZONE).replace(tzinfo=None)


def routes(site_code: str, root: Path = SAMPLE_DIR) -> dict:
    return yaml.safe_load((root / site_code / "routes.yaml").read_text(encoding="utf-8"))


def _shape(post, comments) -> dict:
    return {
        "origin_id": post.origin_id,
        "url": post.url,
        "title": post.title,
        "content": post.content,
        "images": post.images,
        "videos": post.videos,
        "views": post.views,
        "likes": post.likes,
        "comment_count": post.comment_count,
        # Stored in UTC; the expected files say what the page shows (Korean time).
        "posted_at": str(_in_seoul(post.posted_at)) if post.posted_at else None,
        "comments": [
            {
                "key": c.key,
                "author": c.author,
                "content": c.content,
                "likes": c.likes,
            }
            for c in comments
        ],
    }


def item_shape(item: PostItem) -> dict:
    return _shape(item, item.comments)


class _Row:
    def __init__(self, comment: Comment) -> None:
        self.key, self.author = comment.comment_key, comment.author
        self.content, self.likes = comment.content, comment.likes


def stored_posts(session: Session, site_code: str) -> list[dict]:
    """A site's posts as stored, in crawl (id) order, comments in page order."""
    posts = session.scalars(select(Post).where(Post.site_code == site_code).order_by(Post.id)).all()
    return [_shape(p, [_Row(c) for c in sorted(p.comments, key=lambda c: c.id)]) for p in posts]
