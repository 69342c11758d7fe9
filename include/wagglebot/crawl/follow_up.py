"""Comments that a site loads by XHR: the second request, built from the post page as its
description says, and the comments read from what it answers (parsel and json only).

Whatever goes wrong here (a token missing from the page, a refusal, a malformed answer)
raises FollowUpError with a short reason: the spider counts it and stores the post
without its comments, never drops the post.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urljoin

from parsel import Selector

from wagglebot.crawl.extract import best_comments, comments_in_html, run_hook
from wagglebot.crawl.items import CommentItem
from wagglebot.crawl.parsing import clean_text, json_count, json_html, json_id, json_text
from wagglebot.crawl.sites import Comments, CommentsRequest, FromPage, RequestValue, Site


class FollowUpError(ValueError):
    """The comments could not be had; ``reason`` is a short stat key."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class FollowUp:
    """One HTTP request, ready for Scrapy (or any client)."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def follow_up_request(site: Site, page_html: str, page_url: str, origin_id: str) -> FollowUp:
    """The request that fetches this post's comments, as the site's own script sends it."""
    spec = _spec(site)
    page = Selector(text=page_html)

    def resolve(name: str, value: RequestValue) -> str | int:
        if isinstance(value, FromPage):
            found = page.css(value.css).get()
            if found is None or not found.strip():
                raise FollowUpError(f"missing_{name}", f"{value.css!r} matched nothing on the page")
            return found.strip()
        return value.replace("{origin_id}", origin_id) if isinstance(value, str) else value

    fields = {name: resolve(name, v) for name, v in spec.fields.items()}
    headers = {name: str(resolve(name, v)) for name, v in spec.headers.items()}
    url = urljoin(page_url, spec.url.replace("{origin_id}", origin_id))
    if spec.method == "GET":
        if fields:
            url += ("&" if "?" in url else "?") + urlencode(fields)
        return FollowUp("GET", url, headers)
    if spec.encoding == "json":
        headers.setdefault("Content-Type", "application/json; charset=UTF-8")
        body = json.dumps(fields, ensure_ascii=False).encode()
    else:
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
        body = urlencode(fields).encode()
    return FollowUp("POST", url, headers, body)


def comments_from_answer(site: Site, text: str) -> list[CommentItem]:
    """The best comments in the follow-up's answer (HTML or JSON, as the site says)."""
    spec = _spec(site)
    if site.comments_hook:
        return run_hook(site, text)
    assert site.comments is not None  # the Site validator requires selectors or a hook
    if spec.response == "html":
        return comments_in_html(site.comments, Selector(text=text))
    try:
        data = json.loads(text)
    except ValueError:
        raise FollowUpError("not_json", f"the answer is not JSON: {text[:80]!r}") from None
    if spec.error_key and _refused(_at(data, spec.error_key)):
        message = _at(data, spec.message_key) if spec.message_key else None
        raise FollowUpError("refused", f"the site refused: {message or _at(data, spec.error_key)}")
    return comments_in_json(site.comments, data)


def comments_in_json(spec: Comments, data: Any) -> list[CommentItem]:
    rows = _at(data, spec.row)
    if not isinstance(rows, list):
        raise FollowUpError("no_comment_list", f"no list at {spec.row!r}")
    return best_comments(
        spec,
        (
            (
                json_html(_at(row, spec.text)),
                clean_text(json_text(_at(row, spec.author))),
                json_count(_at(row, spec.likes)) if spec.likes else None,
                json_id(_at(row, spec.id)) if spec.id else None,
            )
            for row in rows
            if isinstance(row, dict) and not _excluded(spec, row)
        ),
    )


def _spec(site: Site) -> CommentsRequest:
    if site.comments_request is None:
        raise ValueError(f"{site.site_code} declares no comments_request")
    return site.comments_request


def _at(data: Any, path: str | None) -> Any:
    """``data["a"]["b"]`` for the path "a.b"; None where the path leads nowhere."""
    if not path:
        return None
    for key in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _excluded(spec: Comments, row: dict[str, Any]) -> bool:
    return any(str(_at(row, key)) in values for key, values in spec.exclude.items())


def _refused(value: Any) -> bool:
    if value is None or value is False:
        return False
    return str(value).strip() not in ("", "0")
