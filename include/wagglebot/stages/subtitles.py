"""Burned-in subtitles as ASS: a Korean font, sized and placed for a 1080x1920 Short.

Placed in the safe area (layout.SAFE): their baseline 480 px above the bottom, clear
of the Shorts player's bottom fifth, and 130 px from the right edge, clear of its
buttons; cards keep to the upper part, so captions never cover one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from wagglebot.stages.speech_text import EMOJI
from wagglebot.stages.tts import Cue

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

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
"""


def _clock(seconds: float) -> str:
    centis = round(seconds * 100)
    h, rest = divmod(centis, 360_000)
    m, rest = divmod(rest, 6_000)
    s, cs = divmod(rest, 100)
    return f"{h}:{m:02d}:{s:02d}.{cs:02d}"


_SPACE_BEFORE_MARK = re.compile(r" ([.!?,])")


def ass_text(text: str) -> str:
    """Crawled text is never markup: braces would be override tags, backslashes escapes.
    Emoji go: the Korean font has none, and libass would draw empty boxes.
    """
    text = EMOJI.sub("", text).replace("\\", "\uff3c").replace("{", "\uff5b").replace("}", "\uff5d")
    return _SPACE_BEFORE_MARK.sub(r"\1", " ".join(text.split()))


def write_ass(cues: Iterable[Cue], path: Path) -> Path:
    lines = [
        f"Dialogue: 0,{_clock(c.start)},{_clock(c.end)},Default,,0,0,0,,{ass_text(c.text)}"
        for c in cues
    ]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
