"""Cards drawn over a Short: the post's title card (the hook), and comments while read.

Each card is a PNG drawn here with Pillow and NanumGothic (crawled text is drawn as
pixels, so it can never be markup), overlaid by the render's one ffmpeg graph only
while it is due. Cards sit in the upper part of the safe area; the captions keep
to the lower part, so the two never meet.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from wagglebot.produce.stages.layout import CAPTIONS_TOP, SAFE, Box
from wagglebot.produce.stages.speech_text import on_screen
from wagglebot.produce.stages.tts import Cue

FONT_DIR = Path("/usr/share/fonts/truetype/nanum")
BOLD, REGULAR = FONT_DIR / "NanumGothicBold.ttf", FONT_DIR / "NanumGothic.ttf"
CARD_W = SAFE.w
PAD, RADIUS = 44, 36
TITLE_TOP = SAFE.y + 140  # the hook sits high, where the eye lands first
COMMENT_TOP = SAFE.y + 60
HOOK_MIN, HOOK_MAX = 2.0, 3.0  # seconds the title card stays
BACKDROP_TOP = 760  # the title card's top on a post without pictures
# Each community's own colour on its badge, as its pages show it (others: a neutral one).
SITE_COLOURS = {
    "nate_pann": (237, 28, 36),
    "nate_tok": (237, 28, 36),
    "bobaedream": (0, 82, 164),
    "ruliweb": (30, 90, 180),
    "ppomppu": (60, 60, 60),
}


@dataclass(frozen=True)
class TitleCard:
    site_name: str
    site_code: str
    title: str
    views: int | None = None
    likes: int | None = None
    comments: int | None = None


@dataclass(frozen=True)
class CommentCard:
    label: str  # the author anonymised: "댓글 1"
    text: str
    likes: int | None = None


@dataclass(frozen=True)
class Placed:
    """A drawn card, where it goes and when it shows."""

    path: Path
    box: Box
    start: float
    end: float


def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


def _plain(text: str) -> str:
    return on_screen(text)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int, lines: int) -> list[str]:
    """Break at spaces where possible (Korean lines may break anywhere), ellipsis at the end."""
    out: list[str] = []
    rest = text
    while rest and len(out) < lines:
        cut = len(rest)
        while cut > 1 and draw.textlength(rest[:cut], font=font) > width:
            space = rest.rfind(" ", 0, cut)
            cut = (
                space
                if space > 0 and draw.textlength(rest[:space], font=font) <= width
                else cut - 1
            )
        out.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest and out:
        last = out[-1]
        while last and draw.textlength(last + "…", font=font) > width:
            last = last[:-1]
        out[-1] = last + "…"
    return out


def _count(label: str, n: int | None) -> str | None:
    return None if n is None else f"{label} {n:,}"


def _card(height: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    img = Image.new("RGBA", (CARD_W, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((6, 10, CARD_W - 1, height - 1), RADIUS, fill=(0, 0, 0, 90))  # shadow
    draw.rounded_rectangle((0, 0, CARD_W - 7, height - 11), RADIUS, fill=(255, 255, 255, 245))
    return img, draw


def draw_title_card(card: TitleCard, path: Path) -> Box:
    """The hook: the community's badge, the post's title large, its counts. Returns its box."""
    title_font, badge_font, meta_font = _font(BOLD, 66), _font(BOLD, 38), _font(REGULAR, 36)
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    lines = _wrap(probe, _plain(card.title) or card.site_name, title_font, CARD_W - 2 * PAD, 4)
    meta = " · ".join(
        c
        for c in (
            _count("조회", card.views),
            _count("추천", card.likes),
            _count("댓글", card.comments),
        )
        if c
    )
    height = PAD + 64 + 30 + len(lines) * 86 + (60 if meta else 0) + PAD
    img, draw = _card(height)
    colour = SITE_COLOURS.get(card.site_code, (90, 90, 110))
    badge = _plain(card.site_name)
    badge_w = int(draw.textlength(badge, font=badge_font)) + 44
    draw.rounded_rectangle((PAD, PAD, PAD + badge_w, PAD + 60), 30, fill=colour)
    draw.text((PAD + 22, PAD + 9), badge, font=badge_font, fill="white")
    y = PAD + 64 + 30
    for line in lines:
        draw.text((PAD, y), line, font=title_font, fill=(20, 20, 24))
        y += 86
    if meta:
        draw.text((PAD, y + 8), meta, font=meta_font, fill=(110, 110, 120))
    img.save(path)
    return Box(SAFE.x, TITLE_TOP, CARD_W, height)


def draw_comment_card(card: CommentCard, path: Path) -> Box:
    """A comment as the community shows it: who (anonymised), what, how liked."""
    text_font, label_font = _font(BOLD, 52), _font(BOLD, 36)
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    lines = _wrap(probe, _plain(card.text), text_font, CARD_W - 2 * PAD, 5)
    height = PAD + 48 + 20 + len(lines) * 70 + PAD
    img, draw = _card(height)
    draw.text((PAD, PAD), card.label, font=label_font, fill=(237, 90, 40))
    if (likes := _count("추천", card.likes)) is not None:
        w = draw.textlength(likes, font=label_font)
        draw.text((CARD_W - 7 - PAD - w, PAD), likes, font=label_font, fill=(110, 110, 120))
    y = PAD + 48 + 20
    for line in lines:
        draw.text((PAD, y), line, font=text_font, fill=(20, 20, 24))
        y += 70
    img.save(path)
    return Box(SAFE.x, COMMENT_TOP, CARD_W, height)


def draw_backdrop(card: TitleCard, path: Path) -> Path:
    """For a post without pictures: the title card on a full frame of the community's
    colour, darkening downwards; the render moves it as it moves a picture."""
    from wagglebot.produce.stages.layout import HEIGHT, WIDTH

    top = SITE_COLOURS.get(card.site_code, (90, 90, 110))
    frame = Image.new("RGB", (WIDTH, HEIGHT))
    draw = ImageDraw.Draw(frame)
    for y in range(HEIGHT):  # the site's colour at the top, near black at the bottom
        f = 0.55 * (1 - y / HEIGHT) + 0.08
        draw.line([(0, y), (WIDTH, y)], fill=tuple(int(c * f) for c in top))
    stripes = Image.new("L", frame.size, 0)
    lines = ImageDraw.Draw(stripes)
    for x in range(-HEIGHT, WIDTH, 90):  # faint diagonal stripes: texture, not noise
        lines.line([(x, 0), (x + HEIGHT, HEIGHT)], fill=255, width=2)
    frame.paste((255, 255, 255), mask=stripes.point(lambda v: v * 16 // 255))
    card_png = path.with_name(path.stem + "-card.png")
    box = draw_title_card(card, card_png)
    # Mid-frame, below where comment cards come, above the captions.
    y = min(BACKDROP_TOP, CAPTIONS_TOP - 50 - box.h)
    with Image.open(card_png) as drawn:
        frame.paste(drawn, (box.x, y), drawn)
    card_png.unlink()
    frame.save(path)
    return path


def hook_end(cues: Sequence[Cue], duration: float) -> float:
    """The title card stays while the first line (the title) is read: 2 to 3 seconds."""
    first = cues[0].end if cues else HOOK_MIN
    return min(max(first, HOOK_MIN), HOOK_MAX, duration)


_LETTERS = re.compile(r"[^0-9A-Za-z가-힣]")


def _letters(text: str) -> str:
    return _LETTERS.sub("", text)


def comment_spans(
    cues: Sequence[Cue], comments: Sequence[CommentCard], after: float
) -> list[tuple[int, float, float]]:
    """(comment index, start, end) for each comment the script reads, while it is read: a
    cue (after the hook) whose letters are in the comment's, or mostly its words."""
    spans: list[tuple[int, float, float]] = []
    for cue in cues:
        said = _letters(cue.text)
        if cue.start < after or len(said) < 4:
            continue
        for i, comment in enumerate(comments):
            words = [w for w in cue.text.split() if len(_letters(w)) >= 2]
            known = _letters(comment.text)
            shared = sum(1 for w in words if _letters(w) in known)
            if said in known or (words and shared / len(words) >= 0.6):
                if spans and spans[-1][0] == i and cue.start - spans[-1][2] < 0.5:
                    spans[-1] = (i, spans[-1][1], cue.end)  # one card across its sentences
                else:
                    spans.append((i, cue.start, cue.end))
                break
    return spans


def place_cards(
    title: TitleCard | None,
    comments: Sequence[CommentCard],
    cues: Sequence[Cue],
    duration: float,
    folder: Path,
) -> list[Placed]:
    """Draw the cards this Short shows into ``folder``; returns them with place and time."""
    placed: list[Placed] = []
    hook = hook_end(cues, duration) if title else 0.0
    if title:
        path = folder / "card-title.png"
        placed.append(Placed(path, draw_title_card(title, path), 0.0, hook))
    for n, (i, start, end) in enumerate(comment_spans(cues, comments, hook)):
        path = folder / f"card-comment-{n}.png"
        placed.append(Placed(path, draw_comment_card(comments[i], path), start, end))
    return placed
