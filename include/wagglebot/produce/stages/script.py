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

from wagglebot.core.text import URL

# Korean narration runs at about 5.5 characters a second (espeak-ng at 175 wpm and
# edge-tts's SunHi both measured near it): 150-300 characters are 30-55 s of speech.
CHARS_PER_SECOND = 5.5
TARGET_CHARS = 250  # about 45 s: long enough to tell the story, short of the 60 s limit
MIN_CHARS = 40
MAX_SECONDS = 59  # a Short stays under a minute (over 60 s a Content ID claim blocks it)
MAX_CHARS = int(MAX_SECONDS * CHARS_PER_SECOND)
MIN_SHORT_SECONDS = 15  # thinner than this is a clip, not a story: a person decides


def spoken_seconds(text: str) -> float:
    """About how long the voice takes to read ``text``."""
    return len(text.strip()) / CHARS_PER_SECOND


def too_thin(text: str) -> str | None:
    """Why this script is too thin for a Short, or None."""
    seconds = spoken_seconds(text)
    if seconds >= MIN_SHORT_SECONDS:
        return None
    return (
        f"about {seconds:.0f} s of speech; a Short needs at least {MIN_SHORT_SECONDS} s: "
        "add to the script, or decline the post"
    )


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
    text = URL.sub("", text)
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
    if len(text) > MAX_CHARS:
        raise InvalidScript(
            "length",
            f"{len(text)} characters, about {spoken_seconds(text):.0f} s of speech: a Short "
            f"must stay under {MAX_SECONDS} s ({MAX_CHARS} characters)",
        )
    if len(text) < MIN_CHARS:
        raise InvalidScript("length", f"{len(text)} characters (wanted {MIN_CHARS}-{MAX_CHARS})")
    return text


_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if len(s.strip()) > 1]


def _spoken_end(sentence: str) -> str:
    return sentence if sentence[-1] in ".!?" else sentence + "."


_TAG = re.compile(r"</?[A-Za-z][^<>]{0,40}>")
_MARK_CHARS = re.compile(r"[<>{}\[\]`#*|]+")
_LIST_MARK = re.compile(r"^[ \t]*[-•][ \t]+", re.M)
_SPACES = re.compile(r"[ \t]{2,}")


def _unmarked(text: str) -> str:
    """A post's own text without what a script may not have: a title with "<b>" in it
    (escaped markup, shown as text on its page) is still a story to tell."""
    text = _MARK_CHARS.sub(" ", _LIST_MARK.sub("", _TAG.sub("", text)))
    return _SPACES.sub(" ", text)


def extractive_script(post: PostText) -> Script:
    """A script from the post itself: the title, as much of the body as fits the target,
    and up to two of the best comments."""
    names = [author for author, _ in post.comments if author]
    clean = lambda t: anonymise(soften(_unmarked(t)), names)  # noqa: E731
    parts = [_spoken_end(clean(post.title))]
    comments = [c for c in (clean(text) for _, text in post.comments) if c][:2]
    said = [_spoken_end(_sentences(c)[0][:90]) for c in comments]
    budget = TARGET_CHARS - len(parts[0]) - sum(len(c) + 16 for c in said)
    for sentence in _sentences(clean(post.content)):
        if len(sentence) > budget and len(parts) > 1:
            break
        parts.append(_spoken_end(sentence[: max(budget, 20)]))
        budget -= len(sentence)
        if budget <= 0:
            break
    for n, comment in enumerate(said):
        parts.append(f"{'베스트 댓글은 이렇습니다' if n == 0 else '이런 댓글도 있어요'}. {comment}")
    raw = " ".join(parts)
    if len(raw) < MIN_CHARS:  # a picture post: frame its title so there is something to say
        raw = f"오늘의 인기 글입니다. {raw} 여러분은 어떻게 생각하시나요?"
    if len(raw) > MAX_CHARS:  # a very long title: end at a word, under the minute
        raw = raw[: MAX_CHARS - 1].rsplit(" ", 1)[0].rstrip(".,!? ") + "."
    return Script(validate(raw), engine="extractive", raw=raw)
