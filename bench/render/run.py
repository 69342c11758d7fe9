"""Benchmark: seconds of Short rendered per second of wall time, WaggleBot vs MoviePy.

    .venv/bin/python bench/render/run.py [--rounds 2]

The same composition both ways, from the same inputs (an espeak-ng voice of a
Korean script, its sentence cues, three pictures of different shapes, the title
card and a comment card drawn by wagglebot.produce.stages.cards): 1080x1920 at 30 fps;
the title card for the first line; each picture shown whole over a blurred,
darkened copy of itself, both zooming slowly, for its share of the voice; the
comment card while the comment is read; NanumGothic Bold captions with a black
outline, two lines at a time; libx264 veryfast CRF 23.

- wagglebot: wagglebot.produce.stages.render.render_short (one ffmpeg filter graph, one
  encode; it also loudness-normalises the voice and lights each spoken word in
  the captions, which the MoviePy side does not).
- encode-only: the ceiling. The finished Short decoded and encoded again with the
  same libx264 settings, nothing else: what the render would cost if its filter
  graph (the moves, the dissolves, the blur, the cards, the captions) were free.
- moviepy: MoviePy 2.x, the approach of the old spec and the best-known peer
  (ImageClips with a per-frame resize, the fill blurred once with Pillow, the
  cards as ImageClips, TextClip captions, CompositeVideoClip; the pictures
  dissolve into each other as ours do, with CrossFadeIn and a negative padding).

Rounds alternate; medians, the ratio to MoviePy and the share of the encode-only
ceiling go to bench/results/render.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from wagglebot.produce.stages.cards import CommentCard, TitleCard, place_cards
from wagglebot.produce.stages.encoder import h264_encoder
from wagglebot.produce.stages.layout import (
    AREA_FIT_H,
    DISSOLVE_S,
    FIT_H,
    FIT_W,
    FPS,
    HEIGHT,
    PICTURE_AREA,
    WIDTH,
    ZOOM,
    leaves_room,
    picture_spans,
)
from wagglebot.produce.stages.render import render_short
from wagglebot.produce.stages.subtitles import caption_events
from wagglebot.produce.stages.tts import Cue, Speech, Word, espeak_speech

REPO = Path(__file__).resolve().parents[2]
FONT = "/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf"
SCRIPT = (
    "회사 탕비실 커피가 매일 사라져서 CCTV를 확인해 봤어요. "
    "범인은 바로 옆 팀 팀장님이었습니다. "
    "그 뒤로 팀장님은 매주 커피를 사 오십니다. "
    "베스트 댓글은 이렇습니다. 팀장님 월급 받으시면서 왜 그러세요!"
)


def make_pictures(folder: Path) -> list[Path]:
    sources = [  # a landscape photo, a portrait one, a full-frame one
        "testsrc2=s=1600x1200",
        "mandelbrot=s=1200x1600",
        "gradients=s=1440x2560:c0=0x2b5876:c1=0xf8cdda:n=4",
    ]
    pictures = []
    for i, source in enumerate(sources):
        path = folder / f"picture{i}.jpg"
        subprocess.run(
            [
                "ffmpeg",
                "-y",
                "-hide_banner",
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                source,
                "-frames:v",
                "1",
                "-q:v",
                "3",
                str(path),
            ],
            check=True,
        )
        pictures.append(path)
    return pictures


TITLE = TitleCard(
    "네이트판 톡톡 베스트", "nate_pann", "회사 탕비실 커피가 매일 사라지는 이유", 74428, 1024, 31
)
COMMENT = CommentCard("베스트 댓글 1", "팀장님 월급 받으시면서 왜 그러세요!", 512)


def timed_words(cues: list[Cue]) -> list[Cue]:
    """The cues with word timings spread over each sentence, as edge-tts gives them."""
    out = []
    for c in cues:
        words = c.text.split()
        step = (c.end - c.start) / len(words)
        out.append(Cue(c.start, c.end, c.text, tuple(
            Word(c.start + i * step, c.start + (i + 1) * step, w) for i, w in enumerate(words)
        )))  # fmt: skip
    return out


def wagglebot_render(speech: Speech, pictures: list[Path], out: Path) -> float:
    t0 = time.perf_counter()
    render_short(
        speech.audio_path,
        speech.duration,
        timed_words(speech.cues),
        pictures,
        out,
        title=TITLE,
        comments=[COMMENT],
        encoder_preference="libx264",
    )
    return time.perf_counter() - t0


def moviepy_render(speech: Speech, pictures: list[Path], out: Path) -> float:
    from moviepy import (
        AudioFileClip,
        CompositeVideoClip,
        ImageClip,
        TextClip,
        concatenate_videoclips,
        vfx,
    )
    from PIL import Image, ImageEnhance, ImageFilter

    t0 = time.perf_counter()
    spans = picture_spans(speech.duration, speech.cues, len(pictures))
    segments = []
    last = len(pictures) - 1
    for i, (path, (start, end)) in enumerate(zip(pictures, spans, strict=True)):
        # as ours: half a dissolve longer at each turn, the next one fading in over it
        share = end - start + DISSOLVE_S / 2 * ((i > 0) + (i < last))
        with Image.open(path) as img:  # the fill: blurred and darkened once, as ours is
            fill = ImageEnhance.Brightness(
                img.convert("RGB").filter(ImageFilter.GaussianBlur(40))
            ).enhance(0.72)
            fill_path = path.with_suffix(f".fill{i}.png")
            fill.save(fill_path)
        image = ImageClip(str(path)).with_duration(share)
        blurred = ImageClip(str(fill_path)).with_duration(share)
        # ours: a picture that leaves room sits above the captions, a taller one is centred
        room = leaves_room(image.w, image.h)
        fit = min(FIT_W / image.w, (AREA_FIT_H if room else FIT_H) / image.h)
        centre = PICTURE_AREA.y + PICTURE_AREA.h // 2 if room else HEIGHT // 2
        cover = max(WIDTH / blurred.w, HEIGHT / blurred.h)

        def drift(t: float, i: int = i, share: float = share) -> float:
            step = ZOOM * t / share
            return (1 + step) if i % 2 == 0 else (1 + ZOOM - step)

        layers = [
            blurred.resized(lambda t, c=cover: c * drift(t)).with_position("center"),
            image.resized(lambda t, f=fit: f * drift(t)).with_position(
                lambda t, f=fit, w=image.w, h=image.h, c=centre: (
                    (WIDTH - w * f * drift(t)) / 2,
                    c - h * f * drift(t) / 2,
                )
            ),
        ]
        segment = CompositeVideoClip(layers, size=(WIDTH, HEIGHT)).with_duration(share)
        if i > 0:
            segment = segment.with_effects([vfx.CrossFadeIn(DISSOLVE_S)])
        segments.append(segment)
    video = concatenate_videoclips(segments, method="compose", padding=-DISSOLVE_S)
    with tempfile.TemporaryDirectory() as cards_dir:
        placed = place_cards(TITLE, [COMMENT], speech.cues, speech.duration, Path(cards_dir))
        cards = [
            ImageClip(str(card.path))
            .with_start(card.start)
            .with_end(card.end)
            .with_position((card.box.x, card.box.y))
            for card in placed
        ]
        captions = [
            TextClip(
                font=FONT,
                text=text,
                font_size=72,
                color="white",
                stroke_color="black",
                stroke_width=5,
                method="caption",
                size=(WIDTH - 190, None),
                text_align="center",
            )
            .with_start(a)
            .with_end(b)
            .with_position(("center", HEIGHT - 480 - 200))
            for cue in speech.cues
            for a, b, text in caption_events(cue)  # the same pages of two lines
        ]
        final = CompositeVideoClip([video, *cards, *captions], size=(WIDTH, HEIGHT))
        final = final.with_audio(AudioFileClip(str(speech.audio_path))).with_duration(
            speech.duration
        )
        x264 = h264_encoder("libx264").args()  # the very encoder settings ours uses
        final.write_videofile(
            str(out),
            fps=FPS,
            codec=str(x264.pop("vcodec")),
            preset=str(x264.pop("preset")),
            audio_codec="aac",
            audio_bitrate="128k",
            temp_audiofile=str(out.with_name("moviepy-audio.m4a")),  # not in the cwd
            threads=2,
            ffmpeg_params=[
                *_flags(x264),
                *("-pix_fmt", "yuv420p"),
            ],
            logger=None,
        )
    return time.perf_counter() - t0


def _flags(args: dict) -> list[str]:
    """EncoderChoice.args() as ffmpeg's command-line flags."""
    return [item for key, value in args.items() for item in (f"-{key}", str(value))]


def encode_only(rendered: Path, out: Path) -> float:
    """The ceiling: the finished Short decoded and encoded again with the very libx264
    settings the render uses, nothing else (what the render would take if its filter
    graph were free)."""
    x264 = h264_encoder("libx264").args()
    argv = ["ffmpeg", "-y", "-hide_banner", "-loglevel", "error", "-i", str(rendered),
            "-map", "0", "-c:a", "copy", "-r", str(FPS),
            *_flags(x264),
            str(out)]  # fmt: skip
    t0 = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="copy both renders here, to look at them")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="wagglebot-bench-render-"))
    try:
        speech = espeak_speech(SCRIPT, work / "voice.wav")
        pictures = make_pictures(work)
        runs: dict[str, list[float]] = {"wagglebot": [], "encode-only": [], "moviepy": []}
        for _ in range(args.rounds):  # side by side, alternating
            runs["wagglebot"].append(wagglebot_render(speech, pictures, work / "wb.mp4"))
            runs["encode-only"].append(encode_only(work / "wb.mp4", work / "again.mp4"))
            runs["moviepy"].append(moviepy_render(speech, pictures, work / "mp.mp4"))
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for name in ("wb.mp4", "mp.mp4"):
                shutil.copy(work / name, args.keep / name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    medians = {name: statistics.median(times) for name, times in runs.items()}
    speed = {name: speech.duration / m for name, m in medians.items()}
    result = {
        "video_seconds": speech.duration,
        "rounds": args.rounds,
        "seconds": runs,
        "median_seconds": medians,
        "video_seconds_per_second": speed,
        "ratio": speed["wagglebot"] / speed["moviepy"],
        "share_of_ceiling": speed["wagglebot"] / speed["encode-only"],
    }
    out = REPO / "bench" / "results" / "render.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(
        f"{speech.duration:.1f} s Short, 1080x1920 30 fps, 3 pictures, 2 cards, libx264 veryfast, "
        f"{args.rounds} rounds each"
    )
    for name, times in runs.items():
        listed = ", ".join(f"{t:.1f}" for t in times)
        print(
            f"  {name:<10} {speed[name]:5.2f} s of video per s  (median {medians[name]:.1f}s; "
            f"{listed})"
        )
    print(f"  ratio      {result['ratio']:.1f}x  (wagglebot / moviepy)")
    print(f"  share      {result['share_of_ceiling']:.0%} of the encode-only ceiling")


if __name__ == "__main__":
    main()
