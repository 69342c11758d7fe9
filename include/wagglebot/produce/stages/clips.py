"""Moving pictures for the render: a post's video or animated GIF as a short silent clip.

A clip is made once, when the pictures are gathered: the first seconds of the video
stream, re-encoded at 30 fps, 4:2:0 and at most the frame's size, with no sound (the
narration is the Short's only voice). So the render reads one well-formed H.264 file
whatever the site served (variable-rate GIFs, odd codecs), and a file ffmpeg cannot
decode is skipped with its reason here, not found broken mid-render.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from wagglebot.produce.stages.layout import FPS, HEIGHT, WIDTH

VIDEO_SECONDS = 6.0  # a post's video: its first seconds, muted, under the narration
LOOP_SECONDS = 10.0  # an animated GIF: at most this much of it, looped while it is shown
SUFFIX = ".clip.mp4"


class ClipRejected(ValueError):
    pass


def is_clip(path: Path) -> bool:
    return path.name.endswith(SUFFIX)


def make_clip(source: Path, target: Path, seconds: float) -> float:
    """Write the first ``seconds`` of ``source``'s video as a silent clip at ``target``
    (atomically); its length in seconds."""
    staging = target.with_name(f".{target.name}.part.mp4")
    fit = (
        f"fps={FPS},scale='min({WIDTH},iw)':'min({HEIGHT},ih)'"
        ":force_original_aspect_ratio=decrease:force_divisible_by=2,setsar=1,format=yuv420p"
    )
    argv = [
        *("ffmpeg", "-v", "error", "-y", "-i", str(source), "-t", f"{seconds:.3f}"),
        *("-map", "0:v:0", "-an", "-sn", "-dn", "-vf", fit),
        *("-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-movflags", "+faststart"),
        str(staging),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
    try:
        if done.returncode != 0:
            raise ClipRejected(f"could not be made a clip: {done.stderr.strip()[-200:]}")
        length = clip_seconds(staging)
        if length < 0.2:
            raise ClipRejected(f"{length:.2f} s of video is too short to show")
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    os.replace(staging, target)
    return length


def _probe(path: Path, entries: str) -> tuple[dict, str]:
    """ffprobe's ``entries`` for the clip's video stream (JSON), and what it said on stderr."""
    done = subprocess.run(
        [
            *("ffprobe", "-v", "error", "-select_streams", "v:0", "-of", "json"),
            *("-show_entries", entries, str(path)),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return json.loads(done.stdout or "{}"), done.stderr.strip()


def clip_seconds(path: Path) -> float:
    """How long a clip plays (its video stream's length)."""
    data, said = _probe(path, "stream=duration:format=duration")
    for found in [*(data.get("streams") or []), data.get("format") or {}]:
        try:
            return float(found["duration"])
        except (KeyError, TypeError, ValueError):
            continue
    raise ClipRejected(f"no length ({said[-200:] or 'no video stream'})")


def clip_size(path: Path) -> tuple[int, int] | None:
    """A clip's frame size (width, height), or None where ffprobe finds no video."""
    streams = _probe(path, "stream=width,height")[0].get("streams") or [{}]
    try:
        return int(streams[0]["width"]), int(streams[0]["height"])
    except (KeyError, TypeError, ValueError):
        return None
