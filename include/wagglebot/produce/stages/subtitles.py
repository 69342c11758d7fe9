"""Burned-in subtitles as ASS: a Korean font, sized and placed for a 1080x1920 Short.

Placed in the safe area (layout.SAFE): their baseline 480 px above the bottom, clear
of the Shorts player's bottom fifth, and 130 px from the right edge, clear of its
buttons; cards keep to the upper part, so captions never cover one. Below a picture
that leaves room they have a band of their own (white, outlined); over a picture that
fills the frame they sit on a translucent dark box.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from wagglebot.produce.stages.speech_text import on_screen
from wagglebot.produce.stages.tts import Cue

FONT = "NanumGothic"
FONTS_DIR = "/usr/share/fonts/truetype/nanum"
HEADER = f"""[Script Info]
ScriptType: v4.00+
PlayResX: 1080
PlayResY: 1920
WrapStyle: 0
ScaledBorderAndShadow: yes

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, \
Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, \
Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Default,{FONT},72,&H00FFFFFF,&H00FFFFFF,&H00000000,&H64000000,-1,0,0,0,100,100,0,0,1,5,\
1,2,60,130,480,1
Style: Boxed,{FONT},72,&H00FFFFFF,&H00FFFFFF,&H50000000,&H50000000,-1,0,0,0,100,100,0,0,3,9,\
0,2,60,130,480,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
"""


def _clock(seconds: float) -> str:
    centis = round(seconds * 100)
    h, rest = divmod(centis, 360_000)
    m, rest = divmod(rest, 6_000)
    s, cs = divmod(rest, 100)
    return f"{h}:{m:02d}:{s:02d}.{cs:02d}"


_MARKS_ONLY = re.compile(r"^[.,!?…~]+$")


def ass_text(text: str) -> str:
    """Crawled text is never markup: braces would be override tags, backslashes escapes.
    Emoji go (as on_screen says why)."""
    return on_screen(text).replace("\\", "\uff3c").replace("{", "\uff5b").replace("}", "\uff5d")


# On screen at once: two lines of the 72 px font across the safe width (about 12 Hangul
# syllables a line); a longer sentence is shown a page at a time.
MAX_PAGE_CHARS = 22
HIGHLIGHT = "&H0000E5FF&"  # the word being spoken, in yellow (ASS colours are BGR)


def _pages(cue: Cue) -> list[list[tuple[str, float | None, float | None]]]:
    """The cue's words, safe for ASS, grouped into pages that fit two lines; each word
    with its own timing when the voice gave one for every word of the cue."""
    tokens = [ass_text(t) for t in cue.text.split()]
    timed = len(cue.words) == len(tokens)
    times = [(w.start, w.end) for w in cue.words] if timed else [(None, None)] * len(tokens)
    words: list[tuple[str, float | None, float | None]] = []
    for t, (start, end) in zip(tokens, times, strict=True):
        if t and words and _MARKS_ONLY.match(t):  # "고양이 😂." : the mark joins its word
            word, first, _ = words[-1]
            words[-1] = (word + t, first, end)
        elif t:
            words.append((t, start, end))
    pages: list[list[tuple[str, float | None, float | None]]] = [[]]
    for word in words:
        if pages[-1] and len(" ".join(t for t, *_ in [*pages[-1], word])) > MAX_PAGE_CHARS:
            pages.append([])
        pages[-1].append(word)
    return [p for p in pages if p]


def caption_events(cue: Cue) -> list[tuple[float, float, str]]:
    """What the captions show for a cue: (start, end, ASS text) a page or a word at a time."""
    pages = _pages(cue)
    chars = [len(" ".join(t for t, *_ in page)) for page in pages]
    total, at, events = sum(chars) or 1, cue.start, []
    for n, page in enumerate(pages):
        if page[0][1] is not None:  # timed words: the page shows from its first word
            start = cue.start if n == 0 else page[0][1]
            end = cue.end if n == len(pages) - 1 else pages[n + 1][0][1]
        else:  # sentence timing only: pages share the cue by their length
            start, end = at, at + (cue.end - cue.start) * chars[n] / total
        at = end
        if page[0][1] is None:
            events.append((start, end, " ".join(t for t, *_ in page)))
            continue
        for k, (_, w_start, _) in enumerate(page):  # the spoken word lit, one event each
            a = start if k == 0 else w_start
            b = end if k == len(page) - 1 else page[k + 1][1]
            text = " ".join(
                f"{{\\c{HIGHLIGHT}}}{t}{{\\c&HFFFFFF&}}" if i == k else t
                for i, (t, *_) in enumerate(page)
            )
            events.append((a, max(a, b), text))
    return events


def _style(start: float, end: float, boxed: Sequence[tuple[float, float]]) -> str:
    """Boxed while a picture fills the frame behind the caption (any part of it)."""
    return "Boxed" if any(a < end and start < b for a, b in boxed) else "Default"


def write_ass(cues: Iterable[Cue], path: Path, boxed: Sequence[tuple[float, float]] = ()) -> Path:
    """The captions as ASS; ``boxed``: the spans when a picture fills the frame, whose
    captions sit on a translucent box (readable over any picture) instead of an outline."""
    lines = [
        f"Dialogue: 0,{_clock(a)},{_clock(b)},{_style(a, b, boxed)},,0,0,0,,{text}"
        for c in cues
        for a, b, text in caption_events(c)
        if b > a
    ]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
