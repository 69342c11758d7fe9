"""The narration script: what any engine's output must satisfy, and the offline engine.

Every engine's text (an LLM's, or the extractive one here) passes the same
checks before it is voiced: mostly Korean, a speakable length, no markup, no
echo of the prompt. The extractive engine needs no model: it builds the script
from the post itself (title, opening sentences, the best comment), softening
profanity and replacing nicknames, handles, emails and phone numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TARGET_CHARS = 200  # about 30-40 s of speech
MIN_CHARS, MAX_CHARS = 40, 450


class InvalidScript(ValueError):
    """An engine's output cannot be voiced; ``reason`` is short and stable.

    ``raw`` is the engine output that was refused, when the caller has it, for the reviewer.
    """

    def __init__(self, reason: str, detail: str, *, raw: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.raw = raw


@dataclass(frozen=True)
class PostText:
    title: str
    content: str
    comments: list[tuple[str | None, str]] = field(
        default_factory=list
    )  # (author, text), best first


@dataclass(frozen=True)
class Script:
    text: str
    engine: str
    raw: str  # what the engine produced, kept for the person reviewing


_PROFANITY = [
    (r"씨발|시발|ㅅㅂ|ㅆㅂ|씨바|시바", "아이고"),
    (r"존나|졸라|존니", "엄청"),
    (r"좆같|좃같", "별로"),
    (r"개새끼|개새기|개색기", "나쁜 녀석"),
    (r"병신|ㅂㅅ", "바보"),
    (r"지랄", "난리"),
    (r"미친놈|미친년", "이상한 사람"),
]
_PROFANITY_RE = [(re.compile(p), r) for p, r in _PROFANITY]
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_PHONE = re.compile(r"(?<!\d)01[016789][- .]?\d{3,4}[- .]?\d{4}(?!\d)")  # Hangul is \w
STAND_IN = "누군가"  # ends in a vowel, so the particles after it are 는/가/를/와/로
_PARTICLE_AFTER_VOWEL = {"은": "는", "이": "가", "을": "를", "과": "와", "으로": "로"}
_PARTICLE = re.compile(STAND_IN + r"(으로|은|이|을|과)(?![가-힣])")
_HANDLE = re.compile(r"@[\w가-힣]+")
_URL = re.compile(r"(https?://|www\.)\S+", re.I)
_MARKUP = re.compile(r"[<>{}\[\]`#*|]|^\s*[-•]\s", re.M)
_PROMPT_ECHO = re.compile(
    r"다음 (게시글|글)을|요약해|대본을 작성|프롬프트|As an AI|assistant", re.I
)


def soften(text: str) -> str:
    for pattern, replacement in _PROFANITY_RE:
        text = pattern.sub(replacement, text)
    return text


def anonymise(text: str, names: list[str]) -> str:
    """Contact details and handles out; the named people (comment authors) made anonymous."""
    text = _EMAIL.sub("", text)
    text = _PHONE.sub("", text)
    text = _HANDLE.sub("", text)
    text = _URL.sub("", text)
    for name in sorted({n for n in names if n and len(n) >= 2}, key=len, reverse=True):
        text = text.replace(name, STAND_IN)
    text = _PARTICLE.sub(lambda m: STAND_IN + _PARTICLE_AFTER_VOWEL[m.group(1)], text)
    return " ".join(text.split())


def validate(text: str) -> str:
    """The script, stripped, if it can be voiced; else InvalidScript with the reason."""
    text = text.strip()
    if not text:
        raise InvalidScript("empty", "the engine returned nothing")
    if _PROMPT_ECHO.search(text):
        raise InvalidScript("prompt_echo", "the output repeats the instructions")
    if _MARKUP.search(text):
        raise InvalidScript("markup", "the output contains markup or list syntax")
    letters = [c for c in text if c.isalpha()]
    hangul = sum(1 for c in letters if "가" <= c <= "힣")
    if not letters or hangul / len(letters) < 0.6:
        raise InvalidScript("not_korean", f"only {hangul} of {len(letters)} letters are Hangul")
    if not MIN_CHARS <= len(text) <= MAX_CHARS:
        raise InvalidScript("length", f"{len(text)} characters (wanted {MIN_CHARS}-{MAX_CHARS})")
    return text


_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if len(s.strip()) > 1]


def _spoken_end(sentence: str) -> str:
    return sentence if sentence[-1] in ".!?" else sentence + "."


def extractive_script(post: PostText) -> Script:
    """A script from the post itself: the title, its opening, and the best comment."""
    names = [author for author, _ in post.comments if author]
    clean = lambda t: anonymise(soften(t), names)  # noqa: E731
    parts = [_spoken_end(clean(post.title))]
    budget = TARGET_CHARS - len(parts[0])
    comment = next((clean(text) for _, text in post.comments if clean(text)), None)
    if comment:
        budget -= 40
    for sentence in _sentences(clean(post.content)):
        if len(sentence) > budget and len(parts) > 1:
            break
        parts.append(_spoken_end(sentence[: max(budget, 20)]))
        budget -= len(sentence)
        if budget <= 0:
            break
    if comment:
        parts.append(f"베스트 댓글은 이렇습니다. {_spoken_end(_sentences(comment)[0][:80])}")
    raw = " ".join(parts)
    if len(raw) < MIN_CHARS:  # a picture post: frame its title so there is something to say
        raw = f"오늘의 인기 글입니다. {raw} 여러분은 어떻게 생각하시나요?"
    return Script(validate(raw), engine="extractive", raw=raw)
