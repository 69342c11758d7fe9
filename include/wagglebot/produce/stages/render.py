"""The render stage: voice, subtitles and pictures into one 1080x1920 H.264 Short.

One ffmpeg filter graph and one encode (peers lost 20-30% time and quality to
three lossy passes). Each picture is decoded once, shown whole over a blurred
copy of itself, and moved with scale+crop (about 20% cheaper than zoompan), scaled
only when the move takes a step; pictures dissolve into each other at sentence
boundaries (layout.py), and only the frames they share are blended. A clip
(a post's video or animated GIF, clips.py) plays, looped and muted, over its own
blurred first frame, for about its own length when there are stills to share the time.
With no pictures a slowly moving gradient stands in. The voice is loudness-normalised, music (if
any) ducked under it; the video lasts exactly as long as the voice.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
from PIL import Image

from wagglebot.produce.stages.cards import (
    CommentCard,
    Placed,
    TitleCard,
    draw_backdrop,
    place_cards,
)
from wagglebot.produce.stages.clips import clip_seconds, clip_size, is_clip
from wagglebot.produce.stages.encoder import EncoderChoice, h264_encoder
from wagglebot.produce.stages.layout import (
    AREA_FIT_H,
    BLUR_SIGMA,
    DISSOLVE_S,
    FILL_BRIGHTNESS,
    FIT_H,
    FIT_W,
    FPS,
    HEIGHT,
    LOOP_S,
    MOVES,
    PICTURE_AREA,
    TALL_RATIO,
    WIDTH,
    ZOOM,
    leaves_room,
    picture_spans,
)
from wagglebot.produce.stages.subtitles import FONTS_DIR, write_ass
from wagglebot.produce.stages.tts import Cue

log = logging.getLogger(__name__)


class RenderError(RuntimeError):
    pass


@dataclass(frozen=True)
class Rendered:
    video_path: Path
    thumbnail_path: Path
    duration: float
    encoder: EncoderChoice
    seconds: float  # wall time spent


def _fill(still):
    """The frame filled with a blurred, darkened copy of the picture (made once)."""
    return (
        still.filter("scale", WIDTH, HEIGHT, force_original_aspect_ratio="increase")
        .filter("crop", WIDTH, HEIGHT)
        .filter("gblur", sigma=BLUR_SIGMA)
        .filter("eq", brightness=FILL_BRIGHTNESS)
    )


def _held(stream, frames: int, rate: int = FPS):
    """One decoded frame shown ``frames`` times, on a ``rate`` fps clock."""
    return (
        stream.filter("loop", loop=frames - 1, size=1, start=0)
        .filter("settb", f"1/{rate}")
        .filter("setpts", "N")
    )


def _zoom_rate(seconds: float) -> int:
    """How often a picture's move is worked out: once for each step it takes (the zoomed
    width changes in 2 px steps, as 4:2:0 allows; the window travels no further than
    the zoom adds), at most every frame. A divisor of FPS, so each step is shown for the
    same number of frames."""
    steps = WIDTH * ZOOM / 2 / max(seconds, 1 / FPS)
    return next(rate for rate in (1, 2, 3, 5, 6, 10, 15, FPS) if rate >= steps or rate == FPS)


def _fitted(stream, room: bool):
    """``stream`` fitted whole, and the y of its centre in the frame: one that leaves room
    (``room``: landscape or square) in the upper part, above the captions' band; a
    taller one in the middle, filling the frame."""
    box_h = AREA_FIT_H if room else FIT_H
    centre = PICTURE_AREA.y + PICTURE_AREA.h // 2 if room else HEIGHT // 2
    whole = stream.filter(
        "scale", FIT_W, box_h, force_original_aspect_ratio="decrease", force_divisible_by=2
    )
    return whole, centre


def _composed(source, room: bool):
    """A picture fitted whole (``_fitted``) over a blurred, darkened copy of itself filling
    the frame."""
    parts = source.filter("setsar", 1).split()
    whole, centre = _fitted(parts[1], room)
    return ffmpeg.overlay(_fill(parts[0]), whole, x="(W-w)/2", y=f"{centre}-h/2")


def _picture(path: Path, seconds: float, index: int, room: bool):
    """A picture (``_composed``) with a slow Ken Burns move: zooming in (or out, every
    other picture) while the zoomed frame's window travels as layout.MOVES says for this
    picture, so the direction varies. The window stays inside the zoomed frame, so the
    picture is cropped only by what the zoom adds, and a picture above the captions
    never reaches their band. Composed once, from one decode, then looped: the blur
    costs one frame, not every frame; scaled only as often as the move takes a step."""
    frames = max(1, round(seconds * FPS))
    progress = f"(t/{seconds:.3f})"
    zoom = f"(1+{ZOOM}*{progress})" if index % 2 == 0 else f"(1+{ZOOM}-{ZOOM}*{progress})"
    # the zoomed size spelled out: crop's iw and ih keep the first frame's size
    width, height = f"(trunc({WIDTH}*{zoom}/2)*2)", f"(trunc({HEIGHT}*{zoom}/2)*2)"
    (x0, y0), (x1, y1) = MOVES[index % len(MOVES)]
    rate = _zoom_rate(seconds)
    composed = _composed(ffmpeg.input(str(path), framerate=FPS).video, room)
    moved = (
        _held(composed, math.ceil(seconds * rate) + 1, rate)
        .filter("scale", w=width, h=height, eval="frame", flags="fast_bilinear")
        .filter(
            "crop",
            WIDTH,
            HEIGHT,
            f"({width}-{WIDTH})*({x0}+{x1 - x0}*{progress})",
            f"({height}-{HEIGHT})*({y0}+{y1 - y0}*{progress})",
        )
    )
    return _even(moved).filter("trim", end_frame=frames)


def _even(stream):
    """Every segment alike (size, pixels, clock), as concat and the blends need them."""
    return stream.filter("setsar", 1).filter("format", "yuv420p").filter("fps", FPS)


def _size(path: Path) -> tuple[int, int] | None:
    try:
        with Image.open(path) as img:
            return img.size
    except OSError:
        return None  # ffmpeg reads it, or says why


def _is_tall(path: Path) -> bool:
    """A screenshot of a long thread: fitted whole it would be too small to read."""
    size = _size(path)
    return size is not None and size[1] / max(size[0], 1) > TALL_RATIO


def sits_above_captions(path: Path) -> bool:
    """A picture or clip that leaves room for the captions below it (layout.leaves_room);
    a tall screenshot or a portrait one fills the frame, and its captions are boxed."""
    size = clip_size(path) if is_clip(path) else _size(path)
    return size is not None and leaves_room(*size)


def _scrolling(path: Path, seconds: float):
    """A tall picture at the frame's width, scrolled from its top to its bottom (a pause
    at each end), over its blurred copy: read, not shrunk."""
    frames = max(1, round(seconds * FPS))
    still = ffmpeg.input(str(path), framerate=FPS).video.filter("setsar", 1).split()
    fill = _fill(still[0])
    strip = still[1].filter("scale", FIT_W, -2)
    travel = max(seconds - 1.0, 0.1)
    return _even(
        ffmpeg.overlay(
            _held(fill, frames),
            _held(strip, frames),
            x="(W-w)/2",
            y=f"(H-h)*min(1,max(0,(t-0.5)/{travel:.3f}))",
        )
    )


def _clip(path: Path, seconds: float, room: bool):
    """A clip (clips.py: silent, 30 fps) fitted whole (``_fitted``) over a blurred copy of
    its first frame, looped for as long as it is shown. Only its picture is read: the
    voice stays alone."""
    frames = max(1, round(seconds * FPS))
    moving = ffmpeg.input(str(path), stream_loop=-1, t=f"{seconds:.3f}").video
    moving = moving.filter("setsar", 1).split()
    fill = _held(_fill(moving[0].filter("trim", end_frame=1)), frames)
    shown, centre = _fitted(moving[1], room)
    shown = shown.filter("setpts", "PTS-STARTPTS")
    return _even(ffmpeg.overlay(fill, shown, x="(W-w)/2", y=f"{centre}-h/2", eof_action="repeat"))


def _shown(path: Path, seconds: float, index: int, room: bool):
    if is_clip(path):
        return _clip(path, seconds, room)
    if _is_tall(path):
        return _scrolling(path, seconds)
    return _picture(path, seconds, index, room)


def _frames_of(starts: Sequence[int], total: int, dissolve: int):
    """Each picture's frames [first, end) on the Short's clock, from the frames its turn
    (a sentence boundary) falls on: it starts half a dissolve before its turn and lasts
    until half a dissolve after the next, so two pictures share exactly ``dissolve``
    frames around each turn; the last runs a few frames past ``total`` (cut by -t)."""
    firsts = [0] + [turn - dissolve // 2 for turn in starts[1:]]
    ends = [first + dissolve for first in firsts[1:]] + [total + 3]
    return list(zip(firsts, ends, strict=True))


def _pieces(stream, cuts: Sequence[tuple[int, int]]) -> list:
    """The frames [a, b) of ``stream`` for each cut, each from frame 0 again."""
    split = stream.split() if len(cuts) > 1 else None
    parts = [split[k] for k in range(len(cuts))] if split else [stream]
    return [
        part.filter("trim", start_frame=a, end_frame=b).filter("setpts", "PTS-STARTPTS")
        for part, (a, b) in zip(parts, cuts, strict=True)
    ]


def _dissolved(
    images: Sequence[Path],
    spans: Sequence[tuple[float, float]],
    rooms: Sequence[bool],
    duration: float,
    loop: bool,
):
    """The pictures one after another, each dissolving into the next over DISSOLVE_S
    centred on their turn, so every turn keeps its time. ``loop``: the last LOOP_S dissolve
    into the opening frame (the first picture's first frame: MOVES[0] zooms in from 1, a
    tall one holds its top, a clip its first frame), so a Short played again shows no jump.

    Only the frames two pictures share are blended (``_blend_into``); the rest is cut and
    joined with concat, untouched. (ffmpeg's xfade works in 4:4:4 only: chained over the
    whole Short it converted every frame to 4:4:4 and back, about as costly as the rest
    of the graph together.)"""
    total = math.ceil(round(duration * FPS, 3))
    starts = [round(start * FPS) for start, _ in spans]
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    dissolve = min([round(DISSOLVE_S * FPS), *gaps]) // 2 * 2  # never more than a turn's
    frames = _frames_of(starts, total, dissolve)
    last = len(images) - 1
    joined: list = []
    for i, (path, (first, end), room) in enumerate(zip(images, frames, rooms, strict=True)):
        count = end - first
        head = dissolve if i > 0 else 0
        tail_from = end - first - (dissolve if i < last else 0)
        if i == last and loop:  # the loop's dissolve ends two frames early: the opening's own
            tail_from = max(total - 2 - round(LOOP_S * FPS) - first, head)
            count = total - 2 - first
        cuts = {"head": (0, head), "body": (head, tail_from), "tail": (tail_from, count)}
        if i == 0 and loop:
            cuts["opening"] = (0, 1)
        cuts = {name: cut for name, cut in cuts.items() if cut[0] < cut[1]}
        shown = _shown(path, (end - first) / FPS, i, room)
        pieces = dict(zip(cuts, _pieces(shown, list(cuts.values())), strict=True))
        if "opening" in pieces:  # the opening frame, held past the end
            opening = _even(_held(pieces["opening"], round(LOOP_S * FPS) + 5))
        if "head" in pieces:  # the previous picture's last frames dissolve into these
            joined[-1] = _blend_into(joined[-1], pieces["head"], head / FPS)
        joined += [pieces[name] for name in ("body", "tail") if name in pieces]
        if i == last and loop and "tail" in pieces:  # ...and the last into the opening
            joined[-1] = _blend_into(joined[-1], opening, (count - tail_from) / FPS)
    video = ffmpeg.concat(*joined, v=1, a=0) if len(joined) > 1 else joined[0]
    return video.filter("settb", f"1/{FPS}").filter("setpts", "N")


def _blend_into(first, second, seconds: float):
    """``first`` dissolving into ``second`` over its own length (``seconds``), then the rest
    of ``second``: the fade xfade makes, made as ``first`` fading out over ``second``. The
    blend stays in 4:2:0, where xfade would convert both to 4:4:4 and back (four times
    the cost)."""
    fading = first.filter("format", "yuva420p").filter(
        "fade", type="out", start_time=0, duration=f"{seconds:.4f}", alpha=1
    )
    return ffmpeg.overlay(second, fading, eof_action="pass")


def boxed_spans(spans: Sequence[tuple[float, float]], rooms: Sequence[bool]) -> list:
    """When the frame is filled by a picture (captions on it need their box): the spans of
    those that do not sit above the captions (``rooms``, sits_above_captions of each)."""
    return [span for span, room in zip(spans, rooms, strict=True) if not room]


def image_spans(images: Sequence[Path], duration: float, cues: Sequence[Cue]) -> list:
    longest = [clip_seconds(p) if is_clip(p) else None for p in images]
    return picture_spans(duration, cues, len(images), longest)


def _background(seconds: float):
    source = (
        f"gradients=s={WIDTH}x{HEIGHT}:r={FPS}:c0=0x1d2b64:c1=0xf8cdda:"
        f"x0=0:y0=0:x1={WIDTH}:y1={HEIGHT}:speed=0.008:d={seconds:.3f}"
    )
    return ffmpeg.input(source, f="lavfi").video


def _fading(card: Placed, direction: str, start: float):
    """``card`` fading ``direction`` ("in" or "out") over the loop's dissolve from ``start``."""
    return (
        ffmpeg.input(str(card.path), loop=1, framerate=FPS, t=f"{LOOP_S + 0.2:.3f}")
        .filter("format", "rgba")
        .filter("fade", type=direction, duration=LOOP_S - 2 / FPS, alpha=1)
        .filter("setpts", f"PTS-STARTPTS+{start:.3f}/TB")
    )


def build(
    audio: Path,
    duration: float,
    ass: Path,
    images: Sequence[Path],
    spans: Sequence[tuple[float, float]],
    rooms: Sequence[bool],
    out: Path,
    encoder: EncoderChoice,
    music: Path | None = None,
    cards: Sequence[Placed] = (),
    loop: bool = True,
):
    """The whole render as one ffmpeg command: ``images`` shown over ``spans`` (image_spans),
    each placed by ``rooms`` (sits_above_captions), under the captions in ``ass``."""
    loop = loop and bool(images) and duration > 4 * LOOP_S
    video = _dissolved(images, spans, rooms, duration, loop) if images else _background(duration)
    loop_from = duration - LOOP_S - 2 / FPS  # the loop's dissolve: the cards follow it
    for card in cards:  # one still each, blended only while it is due
        end = card.end
        fading_out = loop and 0 < card.start < loop_from < card.end
        if fading_out:  # a card still up when the loop begins fades out with it
            end = loop_from
        video = ffmpeg.overlay(
            video,
            ffmpeg.input(str(card.path)),
            x=card.box.x,
            y=card.box.y,
            enable=f"between(t,{card.start:.3f},{end:.3f})",
        )
        if (loop and card.start == 0) or fading_out:  # the opening's card fades back in
            fading = _fading(card, "out" if fading_out else "in", loop_from)
            video = ffmpeg.overlay(video, fading, x=card.box.x, y=card.box.y, eof_action="pass")
    video = video.filter("subtitles", str(ass), fontsdir=FONTS_DIR).filter("format", "yuv420p")

    voice = ffmpeg.input(str(audio)).audio.filter("aresample", 48000)
    voice = voice.filter("loudnorm", I=-14, TP=-1.5, LRA=11).filter("aresample", 48000)
    if music is not None:
        split = voice.filter_multi_output("asplit")
        bed = (
            ffmpeg.input(str(music), stream_loop=-1)
            .audio.filter("aresample", 48000)
            .filter("volume", 0.35)
        )
        ducked = ffmpeg.filter(
            [bed, split[0]], "sidechaincompress", threshold=0.02, ratio=10, attack=20, release=400
        )
        voice = ffmpeg.filter([split[1], ducked], "amix", inputs=2, duration="first", normalize=0)
    sound = voice.filter("aformat", channel_layouts="stereo")
    return ffmpeg.output(
        video,
        sound,
        str(out),
        t=f"{duration:.3f}",
        r=FPS,
        acodec="aac",
        audio_bitrate="128k",
        # at 128k FFmpeg's "fast" coder sounds no worse than its default "twoloop" and
        # costs a third of the time, on the thread the filter graph runs on
        aac_coder="fast",
        movflags="+faststart",
        f="mp4",
        **encoder.args(),
    ).global_args("-hide_banner", "-nostats", "-loglevel", "error", "-progress", "pipe:1")


# A task process killed outright (SIGKILL, OOM) cannot stop its ffmpeg, and the watchdog
# dies with it: setpriv (util-linux) has the kernel end the orphan (PR_SET_PDEATHSIG).
DIE_WITH_PARENT = ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []


def _run(argv: list[str], duration: float, timeout: float) -> None:
    proc = subprocess.Popen(
        [*DIE_WITH_PARENT, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    expired = threading.Event()

    def kill() -> None:  # a watchdog: a hung ffmpeg prints no progress to check against
        expired.set()
        proc.kill()

    watchdog = threading.Timer(timeout, kill)
    watchdog.start()
    last_logged = -10.0
    try:
        for line in proc.stdout:  # ffmpeg's -progress key=value lines
            key, _, value = line.strip().partition("=")
            if key == "out_time_us" and value.isdigit():
                done = int(value) / 1e6
                if done - last_logged >= 5:
                    log.info(
                        "render: %.1f of %.1f s (%.0f%%)", done, duration, 100 * done / duration
                    )
                    last_logged = done
        proc.wait()
    finally:
        watchdog.cancel()
    if expired.is_set():
        raise RenderError(f"ffmpeg ran past its {timeout:.0f}s timeout")
    if proc.returncode != 0:
        raise RenderError(
            f"ffmpeg failed ({proc.returncode}): {proc.stderr.read().strip()[-2000:]}"
        )


def render_short(
    audio: Path,
    duration: float,
    cues: Sequence[Cue],
    images: Sequence[Path],
    out: Path,
    *,
    thumbnail: Path | None = None,
    music: Path | None = None,
    title: TitleCard | None = None,
    comments: Sequence[CommentCard] = (),
    encoder_preference: str = "auto",
    timeout: float = 900,
    loop: bool = True,
) -> Rendered:
    """Render to ``out`` and its thumbnail (default: beside it, .jpg), both written
    atomically. ``title``: the hook card shown first; ``comments``: cards shown while the
    script reads them; ``loop``: the last half-second leads back into the opening frame."""
    if duration <= 0:
        raise RenderError("the voice has no length")
    started = time.monotonic()
    out.parent.mkdir(parents=True, exist_ok=True)
    encoder = h264_encoder(encoder_preference)
    log.info("render: encoder %s (%s)", encoder.name, encoder.reason)
    thumbnail = thumbnail or out.with_suffix(".jpg")
    for stale in out.parent.glob(f".{out.stem}-render-*"):  # left by a killed render
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.stem}-render-", dir=out.parent) as tmp:
        if not images and title:  # no pictures: the title card stays, moving, all along
            images, title = [draw_backdrop(title, Path(tmp) / "backdrop.png")], None
        # probed once (a clip's length and size by ffprobe), used by captions and graph
        spans = image_spans(images, duration, cues) if images else []
        rooms = [sits_above_captions(p) for p in images]
        ass = write_ass(cues, Path(tmp) / "subtitles.ass", boxed=boxed_spans(spans, rooms))
        cards = place_cards(title, comments, cues, duration, Path(tmp))
        staging = Path(tmp) / "video.mp4"

        def command(encoder: EncoderChoice) -> list[str]:
            graph = build(audio, duration, ass, images, spans, rooms, staging, encoder, music,
                          cards, loop)  # fmt: skip
            return graph.compile()

        try:
            _run(command(encoder), duration, timeout)
        except RenderError as exc:
            if encoder.name != "h264_nvenc":
                raise
            log.warning("render: h264_nvenc failed (%s); rendering again with libx264", exc)
            encoder = EncoderChoice("libx264", f"h264_nvenc failed mid-render: {exc}")
            _run(command(encoder), duration, timeout)
        thumb_tmp = Path(tmp) / "thumb.jpg"
        (
            ffmpeg.input(str(staging), ss=min(1.0, duration / 2))
            .output(str(thumb_tmp), vframes=1, vf="scale=540:960")
            .global_args("-hide_banner", "-loglevel", "error")
            .run(capture_stdout=True, capture_stderr=True)
        )
        os.replace(staging, out)
        os.replace(thumb_tmp, thumbnail)
    return Rendered(out, thumbnail, duration, encoder, round(time.monotonic() - started, 2))
