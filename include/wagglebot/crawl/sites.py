"""Declarative site descriptions: one YAML file per site under crawl/sites/.

Adding a site is a YAML file (list page, row and link selectors, detail
selectors, best comments) plus fixtures; a code hook only for what selectors
cannot express (comments in inline JSON, say). Descriptions are validated when
loaded, so a typo fails at once with the file and field named.

Selectors are Scrapy CSS selectors. A field selector's matches are joined as
text (``::text`` and ``::attr(x)`` work as usual); ``body`` and comment ``text``
select elements whose HTML is cleaned to plain text.

Sites that load their comments by XHR declare the second request
(``comments_request``: method, URL, fields and headers, some read from the post
page) and what it answers: HTML for the comment selectors, or JSON, where the
comment ``row`` is the dotted path to the list and the other fields are keys.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from wagglebot.core.config import REPO_ROOT, Settings

SITES_DIR = Path(__file__).with_name("sites")
_HOST_NAME = re.compile(r"^(?=.*[a-z])[a-z0-9-]+(\.[a-z0-9-]+)+$", re.IGNORECASE)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ListPage(_Strict):
    url: str  # path (or absolute URL) with {page}
    first_page: int = 1  # some boards count from 0
    pages: int = Field(2, ge=1, le=50)
    row: str
    # A post is found by its address, not by a class a redesign may rename: ``link``
    # narrows a row to its candidate <a> elements (e.g. "td.title a"), and the first whose
    # path and query match ``post_url`` is the post; the pattern's groups (joined by "_")
    # are its origin id.
    link: str
    post_url: str  # e.g. "^/talk/(\\d+)$"
    # The query parameters a post link keeps (None: all). Links that carry the list page
    # they came from (?po=3) would give one post a new URL on every page and every crawl.
    keep_query: list[str] | None = None
    # Counts the list shows, used when the detail page does not show them.
    views: str | None = None
    likes: str | None = None
    comment_count: str | None = None

    @field_validator("post_url")
    @classmethod
    def _regex(cls, value: str) -> str:
        if re.compile(value).groups < 1:
            raise ValueError("needs at least one capture group (the origin id)")
        return value

    @field_validator("link")
    @classmethod
    def _elements(cls, value: str) -> str:
        if "::" in value:
            raise ValueError("selects the <a> elements themselves (no ::attr or ::text)")
        return value


class DetailPage(_Strict):
    title: str
    body: str
    images: str | None = None  # selects <img> elements
    # Images or videos in the post that are no pictures of it: stickers (some animated, as
    # <video>), emoticons, level icons. (Images declared under 64 px are dropped anyway.)
    exclude_images: list[str] = []
    # Elements inside the body that are the site's chrome, not the post's text (clien's
    # "LINK" label on an outside picture): dropped before the body is read.
    exclude_text: list[str] = []
    # The site's own video player, embedded as an <iframe> whose page holds the <video>: a
    # regular expression on the player's path and query (on the post's own host).
    video_player: str | None = None
    # Counts the page states only in inline data (a script's JSON): a regular expression
    # on the page's HTML whose group 1 is the number, read when the selector finds none.
    inline_counts: dict[Literal["views", "likes", "comment_count"], str] = {}
    views: str | None = None
    likes: str | None = None
    comment_count: str | None = None
    posted_at: str | None = None  # text holding the date; see parsing.parse_time
    # The page says the post is gone (some sites answer 200 with a notice).
    gone: str | None = None


class Comments(_Strict):
    # CSS selectors on the page (or an HTML follow-up answer); for a JSON answer, ``row``
    # is the dotted path to the comment list and the rest are keys of each comment.
    row: str
    text: str
    author: str | None = None
    likes: str | None = None
    id: str | None = None  # selects the site's comment id
    id_pattern: str = r"(\d+)"
    limit: int = Field(5, ge=1, le=50)  # best comments kept per post
    # JSON only: comments whose key holds one of these values are skipped (ads, deleted).
    exclude: dict[str, list[str]] = {}


class FromPage(_Strict):
    """A request value read from the post page (a CSRF token, a hidden form field)."""

    css: str


RequestValue = str | int | FromPage


class CommentsRequest(_Strict):
    """The second request that fetches a post's comments (what the site's XHR sends).

    Literal values may say ``{origin_id}``; a ``FromPage`` value that matches nothing
    means the request cannot be made, and the post is stored without comments.
    """

    method: Literal["GET", "POST"] = "GET"
    url: str  # path or absolute URL; may say {origin_id}
    encoding: Literal["form", "json"] = "form"  # how a POST carries its fields
    fields: dict[str, RequestValue] = {}  # the query string of a GET, the body of a POST
    headers: dict[str, RequestValue] = {}
    response: Literal["html", "json"] = "html"
    # JSON: a key whose non-zero value means the site refused (Rhymix says
    # {"error": -1, "message": "..."}); the message key is read for the log.
    error_key: str | None = None
    message_key: str | None = None


class Site(_Strict):
    site_code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")
    name: str
    base_url: str
    encoding: str | None = None  # only when the page mislabels itself
    list: ListPage
    detail: DetailPage
    comments: Comments | None = None
    # "module:function" taking (html, site) and returning list[CommentItem]; with a
    # comments_request it is given that request's answer instead of the page.
    comments_hook: str | None = None
    comments_request: CommentsRequest | None = None
    exclude_image_hosts: frozenset[str] = frozenset()
    # Where the site's own pictures live besides base_url (its CDNs): a name stands for
    # itself and its subdomains. Pictures from anywhere else are never fetched for review.
    image_hosts: frozenset[str] = frozenset()
    # Scrapy settings for this site only (slower delays for touchy sites).
    settings: dict[str, int | float | str | bool] = {}

    @field_validator("image_hosts")
    @classmethod
    def _host_names(cls, hosts: frozenset[str]) -> frozenset[str]:
        for host in hosts:
            if not _HOST_NAME.match(host):
                raise ValueError(f"{host!r} is not a host name (no scheme, port or path)")
        return frozenset(h.lower() for h in hosts)

    @model_validator(mode="after")
    def _comments_source(self) -> Site:
        if self.comments_request and not (self.comments or self.comments_hook):
            raise ValueError("comments_request needs comments selectors or a comments_hook")
        return self

    def list_url(self, page: int, base_url: str | None = None) -> str:
        path = self.list.url.format(page=page)
        if path.startswith(("http://", "https://")):
            return path
        return (base_url or self.base_url).rstrip("/") + path


class SiteError(ValueError):
    pass


def load_site(path: Path) -> Site:
    try:
        site = Site.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except yaml.YAMLError as exc:
        raise SiteError(f"{path.name}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        ]
        raise SiteError(f"{path.name}: " + "; ".join(problems)) from None
    if site.site_code != path.stem:
        raise SiteError(f"{path.name}: site_code {site.site_code!r} must match the file name")
    return site


def base_url_for(site: Site, settings: Settings) -> str:
    """Where to crawl a site: an explicit override, else the sample site or the real one."""
    if site.site_code in settings.crawl_base_urls:
        return settings.crawl_base_urls[site.site_code]
    if settings.crawl_target == "sample":
        return sample_base_urls(settings.sample_site_port)[site.site_code]
    return site.base_url


@dataclass(frozen=True)
class PictureSources:
    """The places a site's pictures may be fetched from: its own addresses (scheme, host
    and port exactly: the real site and where it is crawled now) and its CDN domains."""

    origins: frozenset[tuple[str, str, int]] = frozenset()
    domains: frozenset[str] = frozenset()

    def allows(self, url: str) -> bool:
        origin = _origin(url)
        if origin is None:
            return False
        if origin in self.origins:
            return True
        host = origin[1]
        return any(host == d or host.endswith("." + d) for d in self.domains)


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80)


def picture_sources(site_code: str, settings: Settings) -> PictureSources:
    """Where a post of ``site_code`` may have its pictures fetched from; nothing for a
    site this installation does not know."""
    site = all_sites().get(site_code)
    if site is None:
        return PictureSources()
    origins = {_origin(site.base_url), _origin(base_url_for(site, settings))}
    return PictureSources(frozenset(o for o in origins if o), site.image_hosts)


def site_codes() -> list[str]:
    """The bundled sites' codes, from file names alone (cheap enough for DAG parsing)."""
    return sorted(p.stem for p in SITES_DIR.glob("*.yaml"))


@functools.cache
def all_sites() -> dict[str, Site]:
    """Every bundled site description, by site code."""
    return {p.stem: load_site(p) for p in sorted(SITES_DIR.glob("*.yaml"))}


def get_site(site_code: str) -> Site:
    sites = all_sites()
    if site_code not in sites:
        raise SiteError(f"unknown site {site_code!r}; known: {', '.join(sites)}")
    return sites[site_code]


# The bundled sample site (sample mode): one folder per site, served by the local stack
# (wagglebot_stack.sample_site) from a first port up, one port per site in sorted order.
SAMPLE_ROOT = REPO_ROOT / "sample_site"


def sample_site_codes(root: Path = SAMPLE_ROOT) -> list[str]:
    return sorted(p.parent.name for p in root.glob("*/routes.yaml"))


def sample_base_urls(port_base: int, root: Path = SAMPLE_ROOT) -> dict[str, str]:
    """Where each sample site answers, by site code."""
    return {
        code: f"http://127.0.0.1:{port_base + i}" for i, code in enumerate(sample_site_codes(root))
    }
