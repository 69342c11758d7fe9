"""Stories: one post reposted across communities, found by its text and its pictures.

A repost keeps the story's words (markers like "[네이트판]" or "(펌)" added, emoji and ㅋㅋ
tails sprinkled in, lines reflowed, names masked, sometimes cut short) and its pictures
(re-encoded, resized). Two posts are the same story when:

- their normalised texts share most character 5-grams (Jaccard >= TEXT_JACCARD), or the
  shorter one is mostly inside the longer (containment >= TEXT_CONTAINMENT, with at least
  CONTAINMENT_MIN_CHARS of it: a cut-short repost); or
- they share a picture: 64-bit perceptual hashes within PICTURE_DISTANCE bits, for a
  picture that is neither near-uniform nor common to unrelated posts (a meme template).

Candidates come from MinHash LSH over the 5-gram sets (datasketch; 37 bands of 3 rows,
which makes a pair with Jaccard 0.47 a candidate 98% of the time), then every candidate is
checked exactly: LSH finds, the exact check decides. Why these values: character 5-grams
on whitespace-free text separate reposts (Jaccard ~0.9, a cut-short one's containment
~0.7) from other stories on the same topic (~0.02) better than words or morphemes do;
see shared/research/stories.md and tests/test_stories.py for the measured figures.
"""

from __future__ import annotations

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
SEED = 20261206  # stored signatures depend on it: never change it
LSH_BANDS, LSH_ROWS = 37, 3
TEXT_JACCARD = 0.6
TEXT_CONTAINMENT = 0.7
CONTAINMENT_MIN_CHARS = 100
TEXT_MIN_CHARS = 40  # shorter normalised texts ("제곧내", a title alone) never decide
PICTURE_DISTANCE = 6  # of 64 bits: re-encoded or resized copies measure 0-2
PICTURE_MIN_BITS, PICTURE_MAX_BITS = 5, 59  # fewer or more set bits: a near-uniform image

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


def signature(grams: Iterable[str]) -> MinHash:
    found = MinHash(num_perm=NUM_PERM, seed=SEED)
    found.update_batch([g.encode("utf-8") for g in grams])
    return found


@dataclass(frozen=True)
class TextMatch:
    jaccard: float
    containment: float
    shorter: int  # characters of the shorter text

    @property
    def same_story(self) -> bool:
        if self.shorter < TEXT_MIN_CHARS:
            return False
        if self.jaccard >= TEXT_JACCARD:
            return True
        return self.containment >= TEXT_CONTAINMENT and self.shorter >= CONTAINMENT_MIN_CHARS


def text_match(a: set[str], b: set[str], a_chars: int, b_chars: int) -> TextMatch:
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
    """Posts grouped into stories, in memory: each new post joins the story of the best
    verified match by text, or by a rare shared picture, or starts its own."""

    def __init__(self, template_after: int = 3) -> None:
        # A picture in this many posts whose words differ is a template, not evidence.
        self.lsh = MinHashLSH(num_perm=NUM_PERM, params=(LSH_BANDS, LSH_ROWS))
        self.posts: dict[int, Post] = {}
        self.story_of: dict[int, int] = {}
        self.template_after = template_after
        self._pictures = np.zeros(0, dtype=np.uint64)
        self._picture_posts: list[int] = []

    def _by_text(self, post: Post, grams: set[str], sig: MinHash) -> int | None:
        best, best_score = None, 0.0
        for other_id in self.lsh.query(sig):
            other = self.posts[other_id]
            match = text_match(grams, shingles(other.text), post.chars, other.chars)
            score = max(match.jaccard, match.containment)
            if match.same_story and score > best_score:
                best, best_score = other_id, score
        return best

    def _by_picture(self, post: Post, own_words: bool) -> int | None:
        """A post sharing one of this post's pictures, unless the picture is a template:
        already in ``template_after - 1`` posts while this post has words of its own that
        match none of theirs (a meme under another caption, a site's logo)."""
        for value in post.pictures:
            if not len(self._pictures):
                return None
            near = np.flatnonzero(
                np.bitwise_count(self._pictures ^ np.uint64(value)) <= PICTURE_DISTANCE
            )
            if not len(near) or (own_words and len(near) >= self.template_after - 1):
                continue
            return self._picture_posts[int(near[0])]
        return None

    def _merge(self, story: int, into: int) -> None:
        for member, of in self.story_of.items():
            if of == story:
                self.story_of[member] = into

    def add(self, post_id: int, title: str, body: str, pictures: Iterable[int] = ()) -> int:
        """Put a post into its story; returns the story's id (its first post's id)."""
        text = normalise(title, body)
        post = Post(post_id, text, [p for p in pictures if p is not None])
        grams = shingles(text)
        sig = signature(grams)
        by_text = self._by_text(post, grams, sig) if grams else None
        by_picture = self._by_picture(post, by_text is None and post.chars >= TEXT_MIN_CHARS)
        stories = [self.story_of[m] for m in (by_text, by_picture) if m is not None]
        story = stories[0] if stories else post_id
        if len(set(stories)) == 2:  # its words join one story, a rare picture another: one
            self._merge(stories[1], into=story)
        self.story_of[post_id] = story
        self.posts[post_id] = post
        if grams:
            self.lsh.insert(post_id, sig)
        if post.pictures:
            self._pictures = np.concatenate(
                [self._pictures, np.array(post.pictures, dtype=np.uint64)]
            )
            self._picture_posts += [post_id] * len(post.pictures)
        return self.story_of[post_id]
