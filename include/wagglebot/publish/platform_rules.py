"""Each platform's own rules for a Short's caption and file, checked before anything is sent.

The render makes one file meant to meet all three (H.264 1080x1920 at 30 fps, AAC,
the index at the front with +faststart, a Short's length), so a platform normally
gets that very file. The rules are still checked per platform, as the platforms
document them, because a Short made by an older render, or by hand, may break one:

- TikTok (Content Posting API, media transfer guide): MP4/MOV/WebM, H.264 (or
  H.265/VP8/VP9), at most 4 GB and the creator's longest video (creator_info, checked
  by the publisher); the caption at most 2,200 UTF-16 units.
- Instagram Reels (content publishing, Reels specifications): MP4 or MOV with the moov
  atom first and no edit lists, H.264 or HEVC, 23-60 fps, AAC at most 48 kHz, 3 s to
  15 min, at most 300 MB; the caption at most 2,200 characters, 30 hashtags and 20
  @mentions.
- YouTube: publish.video_check (a Short's length, H.264, AAC) and publish.metadata.

A caption over a limit is refused with the reason (the credit line is never cut). A file
that breaks a rule a copy can mend gets a copy for that platform: the index moved to
the front (no re-encode), or a re-encode with the render's own codecs when the frame
rate or the sound's sample rate is outside the platform's range. ``Adapted.how`` says
which, for the task log and the post's upload record.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from wagglebot.publish import PublishRejected
from wagglebot.publish.metadata import ShortMetadata, utf16_units


@dataclass(frozen=True)
class Rules:
    caption_units: int  # TikTok counts UTF-16 code units; Instagram characters (never more)
    hashtags: int | None = None
    mentions: int | None = None
    max_bytes: int | None = None
    seconds: tuple[float, float] | None = None
    fps: tuple[float, float] | None = None
    max_sample_rate: int | None = None
    moov_first: bool = False


RULES = {
    "tiktok": Rules(caption_units=2200, max_bytes=4 * 1024**3),
    "instagram": Rules(
        caption_units=2200,
        hashtags=30,
        mentions=20,
        max_bytes=300 * 1024**2,
        seconds=(3.0, 900.0),
        fps=(23.0, 60.0),
        max_sample_rate=48_000,
        moov_first=True,
    ),
}
AS_RENDERED = "sent as rendered"
HASHTAG = re.compile(r"#\w+")
MENTION = re.compile(r"@[\w.]+")


def check_caption(metadata: ShortMetadata, platform: str) -> str:
    """The caption ``platform`` gets, or PublishRejected saying which limit it breaks."""
    caption = metadata.caption()
    rules = RULES.get(platform)
    if rules is None:
        return caption
    problems = []
    if (units := utf16_units(caption)) > rules.caption_units:
        problems.append(f"{units} UTF-16 units, over {rules.caption_units}")
    for pattern, limit, what in ((HASHTAG, rules.hashtags, "hashtags"),
                                 (MENTION, rules.mentions, "@mentions")):  # fmt: skip
        if limit is not None and (found := len(pattern.findall(caption))) > limit:
            problems.append(f"{found} {what}, over {limit}")
    if problems:
        raise PublishRejected(
            f"the {platform} caption would be refused: {'; '.join(problems)}", "caption"
        )
    return caption


@dataclass(frozen=True)
class Adapted:
    video: Path
    how: str  # "sent as rendered", or what was done to the copy and why


def adapt_video(video: Path, platform: str, folder: Path) -> Adapted:
    """The file ``platform`` gets: ``video`` itself when it meets the platform's rules, else
    a mended copy in ``folder``; PublishRejected when no copy can mend it."""
    rules = RULES.get(platform)
    if rules is None:
        return Adapted(video, AS_RENDERED)
    probe = _probe(video)
    size = video.stat().st_size
    seconds = float(probe.get("format", {}).get("duration") or 0)
    if rules.max_bytes and size > rules.max_bytes:
        raise PublishRejected(f"{platform} takes at most {rules.max_bytes:,} bytes; the "
                              f"video is {size:,}", "file_size")  # fmt: skip
    if rules.seconds and not rules.seconds[0] <= seconds <= rules.seconds[1]:
        low, high = rules.seconds
        raise PublishRejected(f"{platform} takes {low:.0f}-{high:.0f} s; the video lasts "
                              f"{seconds:.1f} s", "duration")  # fmt: skip
    recode = _recode_reasons(probe, rules)
    target = folder / f"{video.stem}.{platform}{video.suffix}"
    if recode:
        _ffmpeg(video, target, ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18",
                                "-r", "30", "-c:a", "aac", "-ar", "48000"])  # fmt: skip
        return Adapted(target, f"re-encoded for {platform}: {'; '.join(recode)}")
    if rules.moov_first and not moov_first(video):
        _ffmpeg(video, target, ["-c", "copy"])
        return Adapted(target, f"copied for {platform} with its index moved to the front "
                               "(moov atom first), not re-encoded")  # fmt: skip
    return Adapted(video, AS_RENDERED)


def _recode_reasons(probe: dict, rules: Rules) -> list[str]:
    reasons = []
    for stream in probe.get("streams", []):
        if stream.get("codec_type") == "video" and rules.fps:
            rate = _rate(stream.get("avg_frame_rate") or stream.get("r_frame_rate") or "0/1")
            if not rules.fps[0] <= rate <= rules.fps[1]:
                reasons.append(f"{rate:.2f} fps, outside {rules.fps[0]:.0f}-{rules.fps[1]:.0f}")
        if stream.get("codec_type") == "audio" and rules.max_sample_rate:
            rate = int(stream.get("sample_rate") or 0)
            if rate > rules.max_sample_rate:
                reasons.append(f"sound at {rate} Hz, over {rules.max_sample_rate}")
    return reasons


def moov_first(video: Path) -> bool:
    """Whether the MP4's index (moov) comes before its media (mdat): top-level boxes read."""
    with video.open("rb") as file:
        while header := file.read(8):
            if len(header) < 8:
                return False
            size, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if kind == b"moov":
                return True
            if kind == b"mdat":
                return False
            if size == 1:  # a 64-bit size follows
                size = int.from_bytes(file.read(8), "big") - 8
            if size < 8:
                return False
            file.seek(size - 8, 1)
    return False


def _rate(fraction: str) -> float:
    top, _, bottom = fraction.partition("/")
    return float(top) / float(bottom or 1) if float(bottom or 1) else 0.0


def _probe(video: Path) -> dict:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(video)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise PublishRejected(f"the video cannot be read: {done.stderr.strip()[-300:]}", "video")
    return json.loads(done.stdout or "{}")


def _ffmpeg(source: Path, target: Path, codecs: list[str]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(source), "-map", "0", *codecs,
         "-movflags", "+faststart", str(target)],
        capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise PublishRejected(f"the copy for the platform failed: {done.stderr.strip()[-300:]}",
                              "video")  # fmt: skip
