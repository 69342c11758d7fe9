"""A Short's title, description and settings, made from its post and approved script.

YouTube refuses a title over 100 characters or one with ``<`` or ``>`` (also in the
description), so text from a crawled page is cleaned before it is sent, and a
person's edit is checked by the same rules and refused with the reason.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

Privacy = Literal["private", "unlisted", "public"]
PRIVACIES: tuple[Privacy, ...] = ("private", "unlisted", "public")
TITLE_CHARS = 100
DESCRIPTION_BYTES = 5000
TAGS_CHARS = 500
CAPTION_UNITS = 2200  # TikTok counts UTF-16 code units ("runes")
_ANGLES = str.maketrans({"<": "＜", ">": "＞"})  # full-width forms read the same
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class InvalidMetadata(ValueError):
    """A title, description, tag or release time YouTube would refuse; says which and why."""


@dataclass(frozen=True)
class ShortMetadata:
    title: str
    description: str
    tags: tuple[str, ...] = ()
    category_id: str = "24"
    privacy: Privacy = "private"
    publish_at: datetime | None = None  # a scheduled release (UTC); needs privacy private
    language: str = "ko"
    made_for_kids: bool = False
    synthetic_media: bool = True  # the voice is synthetic
    credit: str = ""  # "출처: <site> <URL>", for the platforms without a description

    def caption(self) -> str:
        """The caption of the platforms without a description (TikTok, Instagram): title,
        credit and hashtags within 2,200 UTF-16 units (TikTok's count; Instagram's 2,200
        characters are never fewer); the title gives way first, the credit never."""
        tags = " ".join("#" + t.replace(" ", "") for t in (*self.tags, "Shorts"))
        tail = "\n\n".join(p for p in (self.credit, tags) if p)
        title = self.title
        while utf16_units(f"{title}\n\n{tail}") > CAPTION_UNITS and title:
            title = title[:-1]
        return f"{title}\n\n{tail}".strip()

    def youtube_body(self) -> dict:
        """The ``videos.insert`` resource for parts snippet and status."""
        status: dict[str, object] = {
            "privacyStatus": self.privacy,  # always explicit: YouTube's default is public
            "selfDeclaredMadeForKids": self.made_for_kids,
            "containsSyntheticMedia": self.synthetic_media,
        }
        if self.publish_at:
            status["publishAt"] = self.publish_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "snippet": {
                "title": self.title,
                "description": self.description,
                "tags": list(self.tags),
                "categoryId": self.category_id,
                "defaultLanguage": self.language,
                "defaultAudioLanguage": self.language,
            },
            "status": status,
        }


def _flat(text: str) -> str:
    return " ".join(_CONTROL.sub(" ", unicodedata.normalize("NFC", text)).split())


def clean_title(text: str, fallback: str = "오늘의 커뮤니티 이야기") -> str:
    """A crawled title as YouTube takes it: one line, no angle brackets, at most 100 chars."""
    title = _flat(text).translate(_ANGLES) or fallback
    if len(title) > TITLE_CHARS:
        title = title[: TITLE_CHARS - 1].rstrip() + "…"
    return title


def check_title(text: str) -> str:
    """A person's title, or InvalidMetadata saying why YouTube would refuse it."""
    title = _flat(text)
    if not title:
        raise InvalidMetadata("the title is empty")
    if "<" in title or ">" in title:
        raise InvalidMetadata("the title has < or >, which YouTube refuses")
    if len(title) > TITLE_CHARS:
        raise InvalidMetadata(f"the title has {len(title)} characters; YouTube takes {TITLE_CHARS}")
    return title


def check_description(text: str) -> str:
    description = _CONTROL.sub(" ", unicodedata.normalize("NFC", text)).strip()
    if "<" in description or ">" in description:
        raise InvalidMetadata("the description has < or >, which YouTube refuses")
    size = len(description.encode())
    if size > DESCRIPTION_BYTES:
        raise InvalidMetadata(f"the description is {size} bytes; YouTube takes {DESCRIPTION_BYTES}")
    return description


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def credit_line(site_name: str, post_url: str) -> str:
    return f"출처: {site_name} {post_url}".translate(_ANGLES)


def describe(script: str, site_name: str, post_url: str) -> str:
    """The description: the narration, a credit to the source, #Shorts."""
    credit = credit_line(site_name, post_url)
    body = script.strip().translate(_ANGLES)
    tail = f"\n\n{credit}\n\n#Shorts"
    room = DESCRIPTION_BYTES - len(tail.encode())
    while len(body.encode()) > room:  # a long script gives way; the credit always stays
        body = body[: max(len(body) - 50, 0)]
    return body + tail


def clean_tags(tags: list[str]) -> tuple[str, ...]:
    """Distinct tags without brackets or commas, within YouTube's 500 characters in all
    (a tag with a space costs two more, for its quotes)."""
    kept: list[str] = []
    used = 0
    for tag in dict.fromkeys(_flat(t).replace(",", " ").translate(_ANGLES) for t in tags):
        cost = len(tag) + (2 if " " in tag else 0) + (1 if kept else 0)
        if not tag or used + cost > TAGS_CHARS:
            continue
        kept.append(tag)
        used += cost
    return tuple(kept)


def check_release(privacy: str, publish_at: datetime | None, now: datetime) -> None:
    if privacy not in PRIVACIES:
        raise InvalidMetadata(f"privacy {privacy!r} is not one of {', '.join(PRIVACIES)}")
    if publish_at is None:
        return
    if privacy != "private":
        raise InvalidMetadata("a scheduled release needs privacy private (YouTube's rule)")
    if publish_at.astimezone(UTC) <= now.astimezone(UTC):
        raise InvalidMetadata("the scheduled release time has passed")
