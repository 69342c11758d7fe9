"""Where things go in a Short, and when: the frame, the safe area, picture boxes and turns.

YouTube's Shorts player draws its own controls over the bottom fifth of the frame
(title, channel, the subscribe button) and a column of buttons at the right edge,
so nothing that must be read is placed there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wagglebot.produce.stages.tts import Cue

WIDTH, HEIGHT, FPS = 1080, 1920, 30
ZOOM = 0.06  # how far a picture drifts in or out over its time on screen
DISSOLVE_S = 0.4  # consecutive pictures dissolve into each other, centred on the turn
LOOP_S = 0.5  # the last half-second dissolves back into the opening frame
# Ken Burns: where the zoomed frame's window starts and ends, as fractions of the room
# the zoom leaves (x, y; 0.5 is the middle), in turn from picture to picture, so the
# direction varies. A picture above the captions only drifts up, never into their band.
MOVES = (
    ((0.5, 0.5), (0.5, 0.5)),  # straight in (or out)
    ((0.0, 0.5), (1.0, 0.5)),  # left to right
    ((1.0, 0.2), (0.0, 0.7)),  # right to left, downwards
    ((0.5, 0.0), (0.5, 1.0)),  # top to bottom
)
# A picture fits inside this box, so that at its widest zoom it still shows whole.
FIT_W, FIT_H = int(WIDTH / (1 + ZOOM)) // 2 * 2, int(HEIGHT / (1 + ZOOM)) // 2 * 2
# Taller than this (height over width) a picture is a long screenshot: it scrolls.
TALL_RATIO = 2.4
BLUR_SIGMA = 40  # the fill behind a picture: itself, blurred past recognition...
FILL_BRIGHTNESS = -0.28  # ...and darkened, so the picture and the captions stand out


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def right(self) -> int:
        return self.x + self.w


# Clear of the Shorts player's own controls: the bottom 20 % and the right 12 %.
SAFE = Box(60, 160, WIDTH - 60 - 130, int(HEIGHT * 0.80) - 160)
CAPTIONS_TOP = 1250  # the captions' band begins about here (two lines above MarginV 480)
# A picture that leaves room (landscape or square) sits in the upper part of the frame,
# above the captions' band, so no caption pixel falls on it; one taller than ROOM_RATIO
# (height over width) fills the frame instead, and its captions are boxed.
ROOM_RATIO = 1.1
PICTURE_AREA = Box(0, SAFE.y, WIDTH, CAPTIONS_TOP - 60 - SAFE.y)
# Fitted inside this, it stays inside the area at its widest zoom (about its own centre).
AREA_FIT_H = int(PICTURE_AREA.h / (1 + ZOOM)) // 2 * 2


def leaves_room(width: int, height: int) -> bool:
    return height <= width * ROOM_RATIO


def _shares(duration: float, longest: Sequence[float | None]) -> list[float]:
    """Each item's time on screen: equal shares, except that an item never gets more than
    its ``longest`` while others can use the rest (a clip plays once, then the stills)."""
    shares: list[float | None] = [None] * len(longest)
    left, free = duration, set(range(len(longest)))
    while free:
        even = left / len(free)
        capped = {i for i in free if longest[i] is not None and longest[i] < even}
        if not capped or capped == free:  # nothing else could fill the time: all share it
            break
        for i in capped:
            shares[i] = longest[i]
            left -= longest[i]
        free -= capped
    return [left / len(free) if s is None else s for s in shares]


def picture_spans(
    duration: float,
    cues: Sequence[Cue],
    count: int,
    longest: Sequence[float | None] | None = None,
) -> list[tuple[float, float]]:
    """When each of ``count`` pictures is on screen: about equal shares (none longer than
    its ``longest`` while others can take the time), each turn moved to the sentence
    boundary nearest it, so a picture changes between sentences, not in one."""
    if count <= 0:
        return []
    shares = _shares(duration, longest or [None] * count)
    starts = sorted({round(c.start, 3) for c in cues if 0 < c.start < duration})
    turns: list[float] = []
    target = 0.0
    for k in range(1, count):
        target += shares[k - 1]
        earliest = turns[-1] + 0.5 if turns else 0.5  # at least half a second each
        choices = [s for s in starts if earliest <= s <= duration - 0.5]
        turn = min(choices, key=lambda s: abs(s - target)) if choices else target
        if abs(turn - target) > min(shares[k - 1], shares[k]) / 2:  # no boundary near
            turn = target
        turns.append(max(turn, earliest))
    edges = [0.0, *turns, duration]
    return [(edges[i], edges[i + 1]) for i in range(count)]
