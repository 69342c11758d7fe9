"""Stories: one post reposted across communities, found by its text and its pictures.

A repost keeps the story's words (markers like "[네이트판]" or "(펌)" added, emoji and ㅋㅋ
tails sprinkled in, lines reflowed, names masked, sometimes cut short) and its pictures
(re-encoded, resized). Two posts are the same story when:

- their normalised texts share most character 5-grams (Jaccard >= text_jaccard), or the
  shorter one is mostly inside the longer (containment >= text_containment, with at least
  containment_min_chars of it: a cut-short repost); or
- they share a picture: 64-bit perceptual hashes within picture_distance bits, for a
  picture that is neither near-uniform nor common to unrelated posts (a meme template).

Candidates come from MinHash LSH over the 5-gram sets (datasketch; 37 bands of 3 rows,
which makes a pair with Jaccard 0.47 a candidate 98% of the time), then every candidate is
checked exactly: LSH finds, the exact check decides. Why these values: character 5-grams
on whitespace-free text separate reposts (Jaccard ~0.9, a cut-short one's containment
~0.7) from other stories on the same topic (~0.02) better than words or morphemes do;
see shared/research/stories.md and tests/test_stories.py for the measured figures.
"""

from __future__ import annotations

import functools
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from datasketch import MinHash, MinHashLSH

from wagglebot.core.text import EMOJI, URL

SHINGLE = 5
SHORT_TEXT = 100  # characters under which 3-grams join the 5-grams (a short body)
NUM_PERM = 128
SEED = 20261206  # stored signatures and bands depend on it: never change it
LSH_BANDS, LSH_ROWS = 37, 3  # stored in story_bands: changing them means a new backfill
PICTURE_MIN_BITS, PICTURE_MAX_BITS = 5, 59  # fewer or more set bits: a near-uniform image


@dataclass(frozen=True)
class StoryRules:
    """When two posts are one story (the settings `story_*` set them; these are defaults)."""

    text_jaccard: float = 0.6
    text_containment: float = 0.7
    containment_min_chars: int = 100
    text_min_chars: int = 40  # shorter normalised texts ("제곧내", a title alone) never decide
    picture_distance: int = 6  # of 64 bits: re-encoded or resized copies measure 0-2
    template_after: int = 3  # a picture in this many posts whose words differ is a template

    @classmethod
    def from_settings(cls, settings: object) -> StoryRules:
        return cls(
            **{name: getattr(settings, f"story_{name}") for name in cls.__dataclass_fields__}
        )


DEFAULT_RULES = StoryRules()
PICTURE_DISTANCE = DEFAULT_RULES.picture_distance

# Markers reposters add at a title's edges ("[네이트판] 제목", "제목 (펌)") and whole lines
# they add to a body ("출처 : 네이트판", "네이트판 펌"): not the story's words.
_SOURCES = (
    r"(?:펌|퍼옴|네이트\s*판|네판|판|네이트|더쿠|디시|디씨|펨코|뽐뿌|클리앙|루리웹|보배|보배드림)"
)
_TITLE_MARK = re.compile(
    rf"^\s*(?:[\[(【]\s*{_SOURCES}\s*[\])】]\s*|{_SOURCES}\)\s*)+|(?:\s*[\[(【]\s*{_SOURCES}\s*[\])】])+\s*$"
)
_SOURCE_LINE = re.compile(rf"^\s*(?:출처\s*[:：].*|.*{_SOURCES}\s*펌\s*|\(중략\)|중략)\s*$", re.M)
_LAUGH = re.compile(r"([ㅋㅎㅠㅜ])\1+|\^\^+")
_SPACE = re.compile(r"\s+")
_JPG = re.compile(r"\.(?:jpe?g|gif|png)\s*$", re.I)


def is_repost_title(title: str) -> bool:
    """The title says the post is a copy: "[네이트판] …", "… (펌)"."""
    return bool(_TITLE_MARK.search(title or ""))


def normalise(title: str, body: str) -> str:
    """The story's words: markers, addresses, emoji, laughter runs and all whitespace out."""
    title = _JPG.sub("", _TITLE_MARK.sub("", title or ""))
    text = f"{title}\n{body or ''}"
    text = unicodedata.normalize("NFC", text)
    text = URL.sub(" ", text)
    text = _SOURCE_LINE.sub(" ", text)
    text = EMOJI.sub("", text)
    text = _LAUGH.sub("", text)
    return _SPACE.sub("", text)


def shingles(text: str) -> set[str]:
    """Character 5-grams of normalised text (and 3-grams for a short one)."""
    grams = {text[i : i + SHINGLE] for i in range(max(len(text) - SHINGLE + 1, 0))}
    if len(text) < SHORT_TEXT:
        grams |= {text[i : i + 3] for i in range(max(len(text) - 2, 0))}
    return grams or ({text} if text else set())


@functools.cache
def _template() -> MinHash:
    # Made once: a MinHash otherwise draws its 128 permutations again for every post.
    return MinHash(num_perm=NUM_PERM, seed=SEED)


def signature(grams: Iterable[str]) -> MinHash:
    template = _template()
    found = MinHash(
        num_perm=NUM_PERM,
        seed=SEED,
        permutations=template.permutations,
        scheme=template.scheme,
    )
    found.update_batch([g.encode("utf-8") for g in grams])
    return found


@dataclass(frozen=True)
class TextMatch:
    jaccard: float
    containment: float
    shorter: int  # characters of the shorter text

    def same_story(self, rules: StoryRules = DEFAULT_RULES) -> bool:
        if self.shorter < rules.text_min_chars:
            return False
        if self.jaccard >= rules.text_jaccard:
            return True
        return (
            self.containment >= rules.text_containment
            and self.shorter >= rules.containment_min_chars
        )


def text_match(a: set[str], b: set[str], a_chars: int, b_chars: int) -> TextMatch:
    if (a_chars < SHORT_TEXT) != (b_chars < SHORT_TEXT):
        # Only one side has the short texts' 3-grams: compare 5-grams with 5-grams, or a
        # repost a few characters under the mark would look half as similar as it is.
        a = {g for g in a if len(g) == SHINGLE}
        b = {g for g in b if len(g) == SHINGLE}
    if not a or not b:
        return TextMatch(0.0, 0.0, 0)
    common = len(a & b)
    return TextMatch(common / len(a | b), common / min(len(a), len(b)), min(a_chars, b_chars))


def picture_hash(image: Path | bytes) -> int | None:
    """A picture's 64-bit perceptual hash (DCT), or None for a near-uniform picture, which
    looks like every other one."""
    import imagehash
    from PIL import Image

    with Image.open(io.BytesIO(image) if isinstance(image, bytes) else image) as img:
        value = int(str(imagehash.phash(img.convert("RGB"))), 16)
    if not PICTURE_MIN_BITS <= value.bit_count() <= PICTURE_MAX_BITS:
        return None
    return value


def picture_distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


@dataclass
class Post:
    post_id: int
    text: str  # normalised; its shingles are made again for a candidate (memory over time)
    pictures: list[int] = field(default_factory=list)

    @property
    def chars(self) -> int:
        return len(self.text)


class StoryIndex:
    """Posts grouped into stories: each new post joins the story of the best verified match
    by text, or by a rare shared picture, or starts its own.

    The decisions are made here; where posts, bands, pictures and stories are kept is the
    storage hooks' business: in memory here, in MariaDB in crawl.story_table.
    """

    def __init__(self, rules: StoryRules = DEFAULT_RULES) -> None:
        self.rules = rules
        self.lsh = MinHashLSH(num_perm=NUM_PERM, params=(LSH_BANDS, LSH_ROWS))
        self.posts: dict[int, Post] = {}
        self.story_of: dict[int, int] = {}
        self._pictures = np.zeros(0, dtype=np.uint64)
        self._picture_posts: list[int] = []

    # -- storage hooks (in memory) ------------------------------------------------------------

    def candidates(self, sig: MinHash) -> Iterable[int]:
        """Stored posts sharing an LSH band with the signature."""
        return self.lsh.query(sig)

    def texts(self, post_ids: list[int]) -> dict[int, str]:
        """Stored posts' normalised texts."""
        return {p: self.posts[p].text for p in post_ids}

    def near_pictures(self, value: int) -> list[int]:
        """Stored posts (repeats allowed) with a picture within the distance of ``value``."""
        if not len(self._pictures):
            return []
        near = np.bitwise_count(self._pictures ^ np.uint64(value)) <= self.rules.picture_distance
        return [self._picture_posts[int(i)] for i in np.flatnonzero(near)]

    def story(self, post_id: int) -> int:
        return self.story_of[post_id]

    def new_story(self, post_id: int) -> int:
        return post_id

    def merge(self, story: int, into: int) -> None:
        for member, of in self.story_of.items():
            if of == story:
                self.story_of[member] = into

    def keep(self, post: Post, sig: MinHash | None, story: int) -> None:
        self.story_of[post.post_id] = story
        self.posts[post.post_id] = post
        if sig is not None:
            self.lsh.insert(post.post_id, sig)
        if post.pictures:
            self._pictures = np.concatenate(
                [self._pictures, np.array(post.pictures, dtype=np.uint64)]
            )
            self._picture_posts += [post.post_id] * len(post.pictures)

    # -- decisions ----------------------------------------------------------------------------

    def _by_text(self, post: Post, grams: set[str], sig: MinHash) -> int | None:
        best, best_score = None, 0.0
        found = [p for p in self.candidates(sig) if p != post.post_id]
        for other_id, text in self.texts(found).items():
            match = text_match(grams, shingles(text), post.chars, len(text))
            score = max(match.jaccard, match.containment)
            if match.same_story(self.rules) and score > best_score:
                best, best_score = other_id, score
        return best

    def _by_picture(self, post: Post, own_words: bool) -> int | None:
        """A post sharing one of this post's pictures, unless the picture is a template:
        already in ``template_after - 1`` posts while this post has words of its own that
        match none of theirs (a meme under another caption, a site's logo)."""
        for value in post.pictures:
            near = list(dict.fromkeys(self.near_pictures(value)))
            if not near or (own_words and len(near) >= self.rules.template_after - 1):
                continue
            return near[0]
        return None

    def add(self, post_id: int, title: str, body: str, pictures: Iterable[int | None] = ()) -> int:
        """Put a post into its story; returns the story's id."""
        text = normalise(title, body)
        post = Post(post_id, text, [p for p in pictures if p is not None])
        grams = shingles(text)
        sig = signature(grams) if grams else None
        by_text = self._by_text(post, grams, sig) if sig is not None else None
        own_words = by_text is None and post.chars >= self.rules.text_min_chars
        by_picture = self._by_picture(post, own_words)
        stories = [self.story(m) for m in (by_text, by_picture) if m is not None]
        story = stories[0] if stories else self.new_story(post_id)
        if len(set(stories)) == 2:  # its words join one story, a rare picture another: one
            self.merge(stories[1], into=story)
        self.keep(post, sig, story)
        return story
