"""The post's pictures, fetched for the render: checked, bounded, decoded once by ffprobe.

A picture that cannot be had (gone, hot-link blocked, not an image, a tracking
pixel, too large) is skipped with the reason logged; a post left with none
renders over the generated background instead of failing.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import requests

log = logging.getLogger(__name__)

MAX_PICTURES = 6
MAX_BYTES = 15 * 1024 * 1024
MIN_SIDE = 200  # smaller is an icon, an emoticon or a tracking pixel
_AS_IS = {"mjpeg": ".jpg", "png": ".png"}  # anything else (webp, gif...) becomes one PNG frame
_FFPROBE = [
    *("ffprobe", "-v", "error", "-select_streams", "v:0", "-of", "json"),
    *("-show_entries", "stream=codec_name,width,height"),
]
_ONE_PNG_FRAME = ["-frames:v", "1", "-f", "image2", "-c:v", "png"]


class PictureRejected(ValueError):
    pass


def _probe(path: Path) -> tuple[str, int, int]:
    done = subprocess.run(
        [*_FFPROBE, str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    streams = json.loads(done.stdout or "{}").get("streams") or []
    if done.returncode != 0 or not streams:
        raise PictureRejected(
            f"not a decodable image ({done.stderr.strip()[-200:] or 'no stream'})"
        )
    s = streams[0]
    return s.get("codec_name", "?"), int(s.get("width") or 0), int(s.get("height") or 0)


def _first_frame_png(source: Path, target: Path) -> None:
    staging = target.with_suffix(".png.part")
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(source), *_ONE_PNG_FRAME, str(staging)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        staging.unlink(missing_ok=True)
        raise PictureRejected(f"could not convert to PNG: {done.stderr.strip()[-200:]}")
    os.replace(staging, target)


def on_this_machine(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _download(session: requests.Session, url: str, to: Path, timeout: float) -> None:
    with session.get(url, stream=True, timeout=timeout) as response:
        response.raise_for_status()
        kind = response.headers.get("Content-Type", "")
        if not kind.startswith("image/"):
            raise PictureRejected(f"served as {kind or 'no content type'}, not an image")
        size = 0
        with to.open("wb") as out:
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise PictureRejected(f"larger than {MAX_BYTES // 2**20} MiB")
                out.write(chunk)


def fetch_pictures(
    urls: list[str],
    folder: Path,
    *,
    referer: str | None = None,
    user_agent: str = "WaggleBot",
    limit: int = MAX_PICTURES,
    timeout: float = 15,
    loopback_only: bool = False,
) -> list[Path]:
    """Download up to ``limit`` usable pictures into ``folder`` (replacing what was there).

    ``loopback_only``: fetch nothing from beyond this machine (the bundled sample site).
    """
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("picture_*"):
        old.unlink()
    session = requests.Session()
    session.headers["User-Agent"] = user_agent
    if referer:  # many community CDNs refuse images requested without the post as referer
        session.headers["Referer"] = referer
    kept: list[Path] = []
    for url in dict.fromkeys(urls):
        if len(kept) >= limit:
            break
        if loopback_only and not on_this_machine(url):
            log.warning("picture skipped: %s: not on this machine (sample mode)", url)
            continue
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".part", delete=False) as tmp:
            part = Path(tmp.name)
        try:
            _download(session, url, part, timeout)
            codec, width, height = _probe(part)
            if min(width, height) < MIN_SIDE:
                raise PictureRejected(f"{width}x{height} is too small to show")
            path = folder / f"picture_{len(kept):02d}{_AS_IS.get(codec, '.png')}"
            if codec in _AS_IS:
                os.replace(part, path)
            else:  # the render reads stills through the image2 demuxer: one frame of PNG
                _first_frame_png(part, path)
            kept.append(path)
        except (requests.RequestException, PictureRejected, subprocess.SubprocessError) as exc:
            log.warning("picture skipped: %s: %s", url, exc)
        finally:
            part.unlink(missing_ok=True)
    return kept
