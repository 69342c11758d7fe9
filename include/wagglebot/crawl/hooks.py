"""Code hooks for what a site description's selectors cannot express.

A site names a hook as ``comments_hook: "wagglebot.crawl.hooks:function"``; it is
called with the decoded page HTML and the Site and returns the post's best
comments. Like the selectors, a hook never raises on a page it does not
understand: a missing or malformed blob costs the post its comments, not the post.
"""

from __future__ import annotations

import json
import re
from typing import Any

from parsel import Selector

from wagglebot.crawl.items import CommentItem
from wagglebot.crawl.parsing import clean_text, json_count, json_html, json_id, json_text, squash
from wagglebot.crawl.sites import Site

BEST_COMMENTS = 5  # kept per post when the site description sets no limit

# `var initialCommentData = {...};` in an inline <script> on ppomppu's view page.
_PPOMPPU_BLOB = re.compile(r"\binitialCommentData\s*=\s*(?=\{)")


def ppomppu_comments(html: str, site: Site | None = None) -> list[CommentItem]:
    """Ppomppu's best comments, read from the inline ``initialCommentData`` JSON.

    The view page embeds its first comment page as JSON: per comment the number
    ``no`` (the site's comment id), the author ``name`` and the text ``memo`` as
    HTML, and the likes in ``vote_btn.vote_count`` (a plain ``vote`` is accepted
    too). The blob marks no best comments, so the best are the most liked: the top
    five (or ``comments.limit`` where the site sets one), most liked first, ties in
    page order; replies (``sub_cmt``) compete too. Comments with no text once cleaned (an
    image only, its "원본보기" button aside; a link's preview card) are skipped.
    """
    match = _PPOMPPU_BLOB.search(html or "")
    if not match:
        return []
    try:
        data, _ = json.JSONDecoder().raw_decode(html, match.end())
    except (ValueError, RecursionError):
        return []
    rows = data.get("comments") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        return []
    comments = []
    for row in _with_replies(rows):
        text = _memo_text(row.get("memo"))
        if not text:
            continue
        comments.append(
            CommentItem(
                content=text,
                author=squash(clean_text(json_text(row.get("name")))) or None,
                likes=_likes(row),
                origin_comment_id=json_id(row.get("no")),
            )
        )
    limit = site.comments.limit if site is not None and site.comments else BEST_COMMENTS
    # sorted() is stable, also with reverse=True: equal likes keep page order.
    ranked = sorted(comments, key=lambda c: -1 if c.likes is None else c.likes, reverse=True)
    return ranked[:limit]


def _with_replies(rows: list) -> list[dict[str, Any]]:
    """Each comment followed by its replies (``sub_cmt``): a liked reply is a best comment too."""
    found = []
    for row in rows:
        if isinstance(row, dict):
            found.append(row)
            replies = row.get("sub_cmt")
            if isinstance(replies, list):
                found += [r for r in replies if isinstance(r, dict)]
    return found


# Inside a memo but no words of its writer: a link's preview card, an image's button.
_NOT_WORDS = "a.scrap_bx_href, a.btn_show_org"


def _memo_text(memo: Any) -> str:
    page = Selector(text=json_html(memo) or "<p></p>")
    page.css(_NOT_WORDS).drop()
    return clean_text(page.css("body").get())


def _likes(row: dict[str, Any]) -> int | None:
    button = row.get("vote_btn")
    if isinstance(button, dict):
        likes = json_count(button.get("vote_count"))
        if likes is not None:
            return likes
    return json_count(row.get("vote"))
