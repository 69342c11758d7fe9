"""What a Short shows on screen is text, never markup: every sample site's posts through
the cards' and captions' own text path."""

from __future__ import annotations

import re

import pytest

from wagglebot.produce.stages.script import PostText, extractive_script
from wagglebot.produce.stages.speech_text import on_screen, sentences
from wagglebot.produce.stages.subtitles import caption_events
from wagglebot.produce.stages.tts import Cue

from crawl_support import SITES, expected

_ASS_TAG = re.compile(r"\{[^}]*\}")
MARKUP = ("<", "&nbsp;", "&amp;", "&lt;", "&gt;", "&#")


def _shown(post: dict) -> list[str]:
    """The title card, the comment cards and every caption page of the post's Short."""
    cards = [on_screen(post["title"]), *(on_screen(c["content"]) for c in post["comments"])]
    script = extractive_script(
        PostText(
            post["title"], post["content"], [(c["author"], c["content"]) for c in post["comments"]]
        )
    )
    pages = []
    at = 0.0
    for sentence in sentences(script.text):
        cue = Cue(at, at + 2.0, sentence.display)
        pages += [_ASS_TAG.sub("", text) for _, _, text in caption_events(cue)]
        at += 2.0
    return [c for c in cards + pages if c]


@pytest.mark.parametrize("site", SITES)
def test_cards_and_captions_show_no_markup_and_no_gap_before_a_mark(site: str) -> None:
    shown = [
        text for post in expected(site, "http://127.0.0.1:9")["posts"] for text in _shown(post)
    ]
    assert shown
    for text in shown:
        assert not [m for m in MARKUP if m in text], text
        assert not re.search(r"\s[.,!?]", text), text


def test_an_emoji_leaves_no_gap_and_a_tag_is_text() -> None:
    assert on_screen("고양이 😂. 진짜 <b>귀엽다</b>!") == "고양이. 진짜 ＜b＞귀엽다＜/b＞!"
    [page] = [t for _, _, t in caption_events(Cue(0.0, 2.0, "고양이 😂."))]
    assert _ASS_TAG.sub("", page) == "고양이."
