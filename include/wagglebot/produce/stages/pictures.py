"""The post's pictures, fetched for the render: checked, bounded, decoded once by ffprobe.

What the Short shows, in order: each video's poster and a clip of the video itself,
then the pictures. An animated GIF becomes a clip that loops (clips.py). A picture or
video that cannot be had (gone, hot-link blocked, not an image, a tracking pixel, too
large) is skipped with the reason logged; a post left with none renders over the
generated background instead of failing.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import requests
from parsel import Selector

from wagglebot.crawl.extract import post_videos
from wagglebot.produce.stages.clips import (
    LOOP_SECONDS,
    SUFFIX,
    VIDEO_SECONDS,
    ClipRejected,
    make_clip,
)

log = logging.getLogger(__name__)

MAX_PICTURES = 6
MAX_BYTES = 15 * 1024 * 1024
MAX_VIDEO_BYTES = 60 * 1024 * 1024  # an MP4's index may sit at its end: the whole file
PLAYER_BYTES = 2 * 1024 * 1024  # a site's video player page
PAGE = ("text/html", "application/xhtml+xml")
_KINDS = {"image/": "an image", "video/": "a video", "text/html": "a web page"}
MAX_REDIRECTS = 5
MIN_SIDE = 200  # smaller is an icon, an emoticon or a tracking pixel
_AS_IS = {"mjpeg": ".jpg", "png": ".png"}  # anything else (webp, gif...) becomes one PNG frame
_FFPROBE = [
    *("ffprobe", "-v", "error", "-select_streams", "v:0", "-of", "json"),
    *("-count_packets", "-show_entries", "stream=codec_name,width,height,nb_read_packets"),
]
# CDNs often serve MP4 untyped; ffprobe then decides what it is.
VIDEO_TYPES = ("video/", "application/octet-stream", "binary/octet-stream")
_ONE_PNG_FRAME = ["-frames:v", "1", "-f", "image2", "-c:v", "png"]


class PictureRejected(ValueError):
    pass


@dataclass(frozen=True)
class Probed:
    codec: str
    width: int
    height: int
    frames: int


def _probe(path: Path) -> Probed:
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
    return Probed(
        s.get("codec_name", "?"),
        int(s.get("width") or 0),
        int(s.get("height") or 0),
        int(s.get("nb_read_packets") or 0),
    )


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
    accept: tuple[str, ...] = ("image/",),
) -> None:
    """Save the file at ``url`` to ``to``: served as one of the ``accept`` types (prefixes),
    at most ``max_bytes``.

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
            if not kind.startswith(accept):
                wanted = _KINDS.get(accept[0], accept[0])
                raise PictureRejected(f"served as {kind or 'no content type'}, not {wanted}")
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


@dataclass(frozen=True)
class Wanted:
    url: str
    kind: Literal["picture", "poster", "video"]  # a poster is shown still, even a GIF one

    @property
    def video(self) -> bool:
        return self.kind == "video"


def wanted(images: Iterable[str], videos: Iterable[dict]) -> list[Wanted]:
    """What the Short may show, in order: each video's poster and the video, then the
    pictures. A YouTube player's video is YouTube's to show, not ours to copy."""
    found: dict[str, Wanted] = {}
    for video in videos:
        if video.get("kind") == "file" and video.get("url"):
            if video.get("poster"):
                found.setdefault(video["poster"], Wanted(video["poster"], "poster"))
            found.setdefault(video["url"], Wanted(video["url"], "video"))
    for url in images:
        found.setdefault(url, Wanted(url, "picture"))
    return list(found.values())


def _keep(part: Path, stem: Path, kind: str) -> Path:
    """The downloaded ``part`` checked and put in place as ``stem`` + a suffix."""
    probed = _probe(part)
    if min(probed.width, probed.height) < MIN_SIDE:
        raise PictureRejected(f"{probed.width}x{probed.height} is too small to show")
    if kind == "video" or (kind == "picture" and probed.frames > 1):
        path = stem.with_name(stem.name + SUFFIX)
        make_clip(part, path, VIDEO_SECONDS if kind == "video" else LOOP_SECONDS)
    elif probed.codec in _AS_IS:
        path = stem.with_suffix(_AS_IS[probed.codec])
        os.replace(part, path)
    else:  # the render reads stills through the image2 demuxer: one frame of PNG
        path = stem.with_suffix(".png")
        _first_frame_png(part, path)
    return path


def _played(
    session: requests.Session, videos: Iterable[dict], folder: Path, **fetch: Any
) -> list[dict]:
    """``videos`` with each of the site's own players replaced by the videos its page holds
    (a player page is fetched under the same rules as a picture)."""
    found: list[dict] = []
    for video in videos:
        if video.get("kind") != "player":
            found.append(video)
            continue
        page = folder / ".player.part"
        try:
            download(session, video["url"], page, max_bytes=PLAYER_BYTES, accept=PAGE, **fetch)
            html = page.read_bytes().decode("utf-8", "replace")
            held = post_videos(Selector(text=html).css("body"), video["url"])
            if not held:
                raise PictureRejected("its page holds no <video>")
            found += [v for v in held if v["kind"] == "file"]
        except (requests.RequestException, PictureRejected) as exc:
            log.warning("video player skipped: %s: %s", video["url"], exc)
        finally:
            page.unlink(missing_ok=True)
    return found


def fetch_pictures(
    urls: list[str],
    folder: Path,
    *,
    videos: Iterable[dict] = (),
    referer: str | None = None,
    user_agent: str = "WaggleBot",
    limit: int = MAX_PICTURES,
    timeout: float = 15,
    loopback_only: bool = False,
) -> list[Path]:
    """Download up to ``limit`` usable pictures and clips into ``folder`` (replacing what
    was there): ``urls`` are the post's pictures, ``videos`` its stored videos.

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
    videos = _played(session, videos, folder, timeout=timeout, may_fetch=may_fetch)
    kept: list[Path] = []
    for item in wanted(urls, videos):
        if len(kept) >= limit:
            break
        with tempfile.NamedTemporaryFile(
            dir=folder, prefix=".", suffix=".part", delete=False
        ) as tmp:
            part = Path(tmp.name)
        try:
            download(
                session,
                item.url,
                part,
                timeout=timeout,
                max_bytes=MAX_VIDEO_BYTES if item.video else MAX_BYTES,
                may_fetch=may_fetch,
                accept=VIDEO_TYPES if item.video else ("image/",),
            )
            kept.append(_keep(part, folder / f"picture_{len(kept):02d}", item.kind))
        except (
            requests.RequestException,
            PictureRejected,
            ClipRejected,
            subprocess.SubprocessError,
        ) as exc:
            what = "video" if item.video else "picture"
            log.warning("%s skipped: %s: %s", what, item.url, exc)
        finally:
            part.unlink(missing_ok=True)
    return kept
