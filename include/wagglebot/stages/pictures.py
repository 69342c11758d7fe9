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
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

log = logging.getLogger(__name__)

MAX_PICTURES = 6
MAX_BYTES = 15 * 1024 * 1024
MAX_REDIRECTS = 5
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


def _loopback_only(url: str) -> str | None:
    return None if on_this_machine(url) else "not on this machine (sample mode)"


def download(
    session: requests.Session,
    url: str,
    to: Path,
    *,
    timeout: float,
    max_bytes: int = MAX_BYTES,
    may_fetch: Callable[[str], str | None] | None = None,
) -> None:
    """Save the image at ``url`` to ``to``: served as image/*, at most ``max_bytes``.

    Redirects are followed by hand (at most ``MAX_REDIRECTS``) so ``may_fetch`` judges
    every address on the way: it returns why an address must not be fetched, or None.
    """
    for _ in range(MAX_REDIRECTS + 1):
        if may_fetch and (refusal := may_fetch(url)):
            raise PictureRejected(refusal)
        with session.get(url, stream=True, timeout=timeout, allow_redirects=False) as response:
            if response.is_redirect:
                url = urljoin(url, response.headers["Location"])
                continue
            response.raise_for_status()
            kind = response.headers.get("Content-Type", "")
            if not kind.startswith("image/"):
                raise PictureRejected(f"served as {kind or 'no content type'}, not an image")
            too_big = PictureRejected(f"larger than {max_bytes / 2**20:g} MiB")
            if int(response.headers.get("Content-Length") or 0) > max_bytes:
                raise too_big
            size = 0
            with to.open("wb") as out:
                for chunk in response.iter_content(64 * 1024):
                    size += len(chunk)
                    if size > max_bytes:
                        raise too_big
                    out.write(chunk)
            return
    raise PictureRejected(f"more than {MAX_REDIRECTS} redirects")


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
    may_fetch = _loopback_only if loopback_only else None
    kept: list[Path] = []
    for url in dict.fromkeys(urls):
        if len(kept) >= limit:
            break
        with tempfile.NamedTemporaryFile(
            dir=folder, prefix=".", suffix=".part", delete=False
        ) as tmp:
            part = Path(tmp.name)
        try:
            download(session, url, part, timeout=timeout, may_fetch=may_fetch)
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
