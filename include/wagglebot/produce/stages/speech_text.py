"""Korean script text made speakable: sentences for subtitles, normalised text for the voice.

A subtitle shows what the script says ("3년 차 😂"); the voice reads what a TTS
engine can say ("삼 년 차"). So the script is split into sentences first and
each sentence keeps both forms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wagglebot.core.text import EMOJI, URL

_DIGITS = "영일이삼사오육칠팔구"
_SMALL_UNITS = ["", "십", "백", "천"]
_BIG_UNITS = ["", "만", "억", "조", "경"]


def sino_korean(number: int) -> str:
    """12345 -> '만 이천삼백사십오' (Sino-Korean reading, the one numbers in prose take)."""
    if number == 0:
        return "영"
    if number < 0:
        return "마이너스 " + sino_korean(-number)
    groups = []
    big = 0
    while number:
        number, group = divmod(number, 10_000)
        if group:
            words = []
            for position in range(3, -1, -1):
                digit = group // 10**position % 10
                if digit:
                    # "십", not "일십"; but a lone 1 in the ones place is "일".
                    lead = "" if digit == 1 and position else _DIGITS[digit]
                    words.append(lead + _SMALL_UNITS[position])
            text = "".join(words)
            if big == 1 and text == "일":
                text = ""  # 10,000 is "만", but 10^8 is "일억"
            groups.append(text + _BIG_UNITS[big])
        big += 1
    return " ".join(reversed(groups))


def _read_number(match: re.Match[str]) -> str:
    whole, fraction, unit = match.group(1), match.group(2), match.group(3) or ""
    spoken = sino_korean(int(whole.replace(",", "")))
    if fraction:
        spoken += " 점 " + "".join(_DIGITS[int(d)] for d in fraction)
    return spoken + {"%": " 퍼센트", "만": " 만", "천": " 천"}.get(unit, unit)


_SPACE_BEFORE_MARK = re.compile(r"\s+([.,!?…])")
_NUMBER = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?\s*(%|만|천)?")
_LAUGH = [
    (re.compile(r"ㅋ{2,}"), " 크크 "),
    (re.compile(r"ㅎ{2,}"), " 흐흐 "),
    (re.compile(r"[ㅠㅜ]{2,}"), " "),
    (re.compile(r"[ㄱ-ㅎㅏ-ㅣ]+"), " "),  # stray jamo: ㅇㅇ, ㄷㄷ ...
]
_SYMBOLS = [
    (re.compile(r"&"), " 그리고 "),
    (re.compile(r"[~^*_#@<>\[\](){}\"'`|\\/=+]+"), " "),
    (re.compile(r"([.!?…])\1+"), r"\1"),
    (re.compile(r"\s+"), " "),
    (_SPACE_BEFORE_MARK, r"\1"),
]


def on_screen(text: str) -> str:
    """Text as a card or caption shows it: no emoji (the font has none) and no gap one
    leaves ("고양이 😂." reads "고양이."), < and > as their full-width forms (as YouTube
    takes them), whitespace single."""
    text = " ".join(EMOJI.sub("", text).split())
    return _SPACE_BEFORE_MARK.sub(r"\1", text).replace("<", "\uff1c").replace(">", "\uff1e")


def speakable(text: str) -> str:
    """What the voice should read: no URLs or emoji, laughter and numbers in words."""
    text = URL.sub(" ", text)
    text = EMOJI.sub(" ", text)
    for pattern, replacement in _LAUGH:
        text = pattern.sub(replacement, text)
    text = _NUMBER.sub(_read_number, text)
    for pattern, replacement in _SYMBOLS:
        text = pattern.sub(replacement, text)
    return text.strip()


def displayable(text: str) -> str:
    """What a subtitle shows: the sentence as written, minus URLs and extra spaces."""
    return " ".join(URL.sub(" ", text).split())


@dataclass(frozen=True)
class Sentence:
    display: str  # for the subtitle
    spoken: str  # for the voice


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
MAX_SPOKEN = 80  # espeak-ng truncates long unpunctuated Korean; long lines read badly too


def sentences(script: str) -> list[Sentence]:
    """The script's sentences; ones with nothing to say (only emoji, a URL) are dropped,
    over-long ones are cut at a comma or space."""
    result = []
    for raw in _SENTENCE_END.split(script):
        for piece in _cut(raw.strip()):
            spoken = speakable(piece)
            if re.search(r"[가-힣A-Za-z0-9]", spoken):
                result.append(Sentence(displayable(piece), spoken))
    return result


def _cut(text: str) -> list[str]:
    if len(text) <= MAX_SPOKEN:
        return [text] if text else []
    window = text[:MAX_SPOKEN]
    at = max(window.rfind(", "), window.rfind(","), window.rfind(" "))
    at = at if at > MAX_SPOKEN // 3 else MAX_SPOKEN
    return [text[: at + 1].strip(), *_cut(text[at + 1 :].strip())]
