"""Is this file a whole Short? Checked before any quota is counted or session opened.

A Short goes out only when ffprobe finds one H.264 video stream of the render's
size and one AAC audio stream, its length matches its voice (a render that died
or a copy cut short is shorter) and stays within a Short's limit, every packet
of the file can be read, and its sound is not silence. Anything else is refused
with the reason, which the post keeps.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from wagglebot.produce.stages.layout import HEIGHT, WIDTH
from wagglebot.publish import PublishRejected

DURATION_SLACK_S = 0.2  # the render's length against its voice's
MAX_SECONDS = 180.0  # YouTube's limit for a Short
SILENT_DB = -70.0  # a loudest sample below this is silence, not a voice


class BrokenShort(PublishRejected):
    """The rendered file is not a whole Short: it must be rendered again."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "brokenVideo")


def _run(argv: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "no reason given"


def check_short(video: Path, voice_seconds: float) -> None:
    """Raise BrokenShort saying what is wrong with ``video``; return if it is whole."""
    try:
        size = video.stat().st_size
    except OSError as exc:
        raise BrokenShort(f"the video cannot be read: {video}: {exc.strerror}") from None
    if size == 0:
        raise BrokenShort(f"the video is empty (0 bytes): {video}")
    probe = _run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json",
                  str(video)])  # fmt: skip
    if probe.returncode != 0:
        raise BrokenShort(
            f"the video is truncated or not an MP4 (ffprobe: {_last_line(probe.stderr)}): {video}"
        )
    info = json.loads(probe.stdout or "{}")
    streams = info.get("streams", [])
    pictures = [s for s in streams if s.get("codec_type") == "video"]
    sounds = [s for s in streams if s.get("codec_type") == "audio"]
    if len(pictures) != 1 or pictures[0].get("codec_name") != "h264":
        found = ", ".join(s.get("codec_name", "?") for s in pictures) or "none"
        raise BrokenShort(f"the video needs one H.264 picture stream, it has: {found}")
    width, height = pictures[0].get("width"), pictures[0].get("height")
    if (width, height) != (WIDTH, HEIGHT):
        raise BrokenShort(f"the video is {width}x{height}, not the Short's {WIDTH}x{HEIGHT}")
    if not sounds:
        raise BrokenShort("the video is silent: it has no sound track")
    if len(sounds) != 1 or sounds[0].get("codec_name") != "aac":
        found = ", ".join(s.get("codec_name", "?") for s in sounds)
        raise BrokenShort(f"the video needs one AAC sound track, it has: {found}")
    seconds = float(info.get("format", {}).get("duration") or 0)
    if seconds > MAX_SECONDS:
        raise BrokenShort(f"the video lasts {seconds:.1f} s, over a Short's {MAX_SECONDS:.0f} s")
    if abs(seconds - voice_seconds) > DURATION_SLACK_S:
        raise BrokenShort(
            f"the video is truncated: it lasts {seconds:.2f} s, its voice {voice_seconds:.2f} s"
        )
    # Every packet read (not decoded): a file cut short after its index fails here.
    read = _run(["ffmpeg", "-v", "error", "-xerror", "-i", str(video), "-map", "0",
                 "-c", "copy", "-f", "null", "-"])  # fmt: skip
    if read.returncode != 0 or read.stderr.strip():
        raise BrokenShort(f"the video is truncated: {_last_line(read.stderr)}")
    loudness = _run(["ffmpeg", "-hide_banner", "-nostats", "-i", str(video), "-map", "0:a:0",
                     "-af", "volumedetect", "-f", "null", "-"])  # fmt: skip
    loudest = re.search(r"max_volume: (-?[\d.]+|-inf) dB", loudness.stderr)
    if loudest is None or loudest[1] == "-inf" or float(loudest[1]) < SILENT_DB:
        said = loudest[1] if loudest else "unmeasured"
        raise BrokenShort(f"the video is silent: its loudest sound is {said} dB")
