"""Decoded frames of a rendered Short, and what the frame tests look for in them."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from wagglebot.produce.stages.layout import HEIGHT, WIDTH, Box


def _frame(video: Path, at: float, pix_fmt: str) -> bytes:
    return subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-ss", f"{at}", "-i", str(video),
         "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"],
        capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip


def rgb_frame(video: Path, at: float) -> bytes:
    """One decoded frame at `at` seconds, 1080x1920 RGB."""
    return _frame(video, at, "rgb24")


def gray_frame(video: Path, at: float) -> bytes:
    """One decoded frame at `at` seconds, 1080x1920 8-bit gray."""
    return _frame(video, at, "gray")


def where(frame: bytes, colour: tuple[int, int, int], tolerance: int = 60):
    """(count, min x, min y, max x, max y) of the RGB frame's pixels close to ``colour``."""
    xs, ys = [], []
    for i in range(0, len(frame), 3 * 3):  # every third pixel is plenty
        if all(abs(frame[i + c] - colour[c]) < tolerance for c in range(3)):
            px = i // 3
            xs.append(px % WIDTH)
            ys.append(px // WIDTH)
    return (len(xs), min(xs, default=-1), min(ys, default=-1), max(xs, default=-1),
            max(ys, default=-1))  # fmt: skip


def _white(r: int, g: int, b: int) -> bool:
    return min(r, g, b) > 235


def _white_or_spoken(r: int, g: int, b: int) -> bool:
    """White, or the yellow of the word being spoken (subtitles.HIGHLIGHT)."""
    return min(r, g, b) > 235 or (r > 225 and g > 200 and b < 60)


def caption_box(frame: bytes, top: int = 900, bottom: int = HEIGHT, spoken: bool = False):
    """(min x, min y, max x, max y) of the caption's white glyph pixels in the rows from
    ``top`` to ``bottom`` of an RGB frame; ``spoken``: the yellow of the spoken word too."""
    glyph = _white_or_spoken if spoken else _white
    xs, ys = [], []
    for y in range(top, bottom, 2):
        row = frame[(y * WIDTH) * 3 : ((y + 1) * WIDTH) * 3]
        for x in range(0, WIDTH, 2):
            if glyph(*row[x * 3 : x * 3 + 3]):
                xs.append(x)
                ys.append(y)
    return min(xs, default=-1), min(ys, default=-1), max(xs, default=-1), max(ys, default=-1)


def share(frame: bytes, box: Box, test: Callable[[int], bool]) -> float:
    """The share of ``box``'s pixels (every 4th) of a gray frame for which ``test`` holds."""
    hits = total = 0
    for y in range(box.y, box.bottom, 4):
        row = frame[y * WIDTH + box.x : y * WIDTH + box.right : 4]
        hits += sum(1 for px in row if test(px))
        total += len(row)
    return hits / total


def mean_difference(a: bytes, b: bytes, rows: tuple[int, int] = (0, HEIGHT)) -> float:
    """Mean absolute difference of two gray frames over ``rows`` (every 7th pixel)."""
    part = slice(rows[0] * WIDTH, rows[1] * WIDTH)
    x, y = a[part][::7], b[part][::7]
    return sum(abs(p - q) for p, q in zip(x, y, strict=True)) / len(x)
