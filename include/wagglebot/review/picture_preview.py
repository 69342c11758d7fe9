"""Pictures for the review dashboard, fetched by the server and never by a reviewer's browser.

A crawled page names its pictures' addresses; letting each reviewer's browser load
them would hand their IP address and a referrer to any host a page chose (a tracking
pixel, mixed content). Instead the dashboard process fetches a picture itself, only
from the post's own site or its CDNs (``PictureSources``), checks it is a real image
of bounded size, re-encodes a small copy (so what reaches the browser is our JPEG or
PNG, whatever the bytes were) and keeps it on disk. The browser gets those bytes from
the dashboard. A picture that fails a check comes back with the reason instead.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from PIL import Image, UnidentifiedImageError

from wagglebot.crawl.sites import PictureSources
from wagglebot.produce.stages.pictures import PictureRejected, download

MAX_BYTES = 4 * 2**20
SIDE = 480  # the copy's longest side: sharp at the dashboard's 160 px, small to send
MIN_SIDE = 32  # smaller is an icon or a tracking pixel
MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding
FORMATS = frozenset({"JPEG", "PNG", "GIF", "WEBP", "BMP"})
RETRY_AFTER_S = 3600  # a picture that failed is tried again after this long
WORKERS = 4


@dataclass(frozen=True)
class PreviewPicture:
    """One picture of a post: ``data`` (JPEG or PNG bytes), or ``problem`` saying why not."""

    url: str
    data: bytes | None = None
    problem: str | None = None


class PicturePreviews:
    """Checked, re-encoded copies of posts' pictures, cached in ``folder``."""

    def __init__(
        self, folder: Path, *, user_agent: str, timeout: float = 5.0, max_bytes: int = MAX_BYTES
    ) -> None:
        self.folder, self.user_agent = folder, user_agent
        self.timeout, self.max_bytes = timeout, max_bytes

    def get_many(
        self, urls: list[str], sources: PictureSources, referer: str | None = None
    ) -> list[PreviewPicture]:
        if len(urls) <= 1:
            return [self.get(u, sources, referer) for u in urls]
        with ThreadPoolExecutor(min(WORKERS, len(urls))) as pool:
            return list(pool.map(lambda u: self.get(u, sources, referer), urls))

    def get(self, url: str, sources: PictureSources, referer: str | None = None) -> PreviewPicture:
        refusal = _refusal(url, sources)
        if refusal:
            return PreviewPicture(url, problem=refusal)
        key = hashlib.sha256(url.encode()).hexdigest()
        for suffix in (".jpg", ".png"):
            if (cached := self.folder / f"{key}{suffix}").exists():
                return PreviewPicture(url, data=cached.read_bytes())
        rejected = self.folder / f"{key}.rejected"
        if rejected.exists() and time.time() - rejected.stat().st_mtime < RETRY_AFTER_S:
            return PreviewPicture(url, problem=rejected.read_text(encoding="utf-8"))
        try:
            data, suffix = self._fetch(url, sources, referer)
        except (requests.RequestException, PictureRejected, OSError) as exc:
            problem = _reason(exc)
            _write(rejected, problem.encode())
            return PreviewPicture(url, problem=problem)
        _write(self.folder / f"{key}{suffix}", data)
        rejected.unlink(missing_ok=True)
        return PreviewPicture(url, data=data)

    def _fetch(self, url: str, sources: PictureSources, referer: str | None) -> tuple[bytes, str]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.folder) as tmp, requests.Session() as session:
            session.headers["User-Agent"] = self.user_agent
            if referer:  # community CDNs refuse pictures asked for without their post
                session.headers["Referer"] = referer
            part = Path(tmp) / "download"
            download(
                session,
                url,
                part,
                timeout=self.timeout,
                max_bytes=self.max_bytes,
                may_fetch=lambda hop: _refusal(hop, sources),
            )
            return small_copy(part.read_bytes())


def small_copy(raw: bytes) -> tuple[bytes, str]:
    """A real image re-encoded at most ``SIDE`` px: (bytes, ".jpg" or ".png")."""
    try:
        with Image.open(io.BytesIO(raw)) as img:
            if img.format not in FORMATS:
                raise PictureRejected(f"a {img.format or 'unknown'} file, not a photo format")
            width, height = img.size
            if min(width, height) < MIN_SIDE:
                raise PictureRejected(f"{width}x{height} is too small to be a picture")
            if width * height > MAX_PIXELS:
                raise PictureRejected(f"{width}x{height} is too many pixels to show")
            img.draft("RGB", (SIDE, SIDE))  # JPEG: decode at a fraction of the size
            img.thumbnail((SIDE, SIDE))
            alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
            out = io.BytesIO()
            if alpha:
                img.convert("RGBA").save(out, "PNG", optimize=True)
            else:
                img.convert("RGB").save(out, "JPEG", quality=85)
    except PictureRejected:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        raise PictureRejected(f"not a readable image ({exc})") from None
    return out.getvalue(), ".png" if alpha else ".jpg"


def _refusal(url: str, sources: PictureSources) -> str | None:
    if not url.lower().startswith(("http://", "https://")):
        return "not a web address"
    if not sources.allows(url):
        host = urlsplit(url).hostname or "no host"
        return f"{host} is not the post's own site or one of its CDNs"
    return None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"the site answered {exc.response.status_code}"
    if isinstance(exc, requests.Timeout):
        return "the site did not answer in time"
    if isinstance(exc, requests.ConnectionError):
        return "the site could not be reached"
    return str(exc) or type(exc).__name__


def _write(path: Path, data: bytes) -> None:
    # Atomic: two dashboard sessions fetching the same picture never see half a file.
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".part", delete=False) as tmp:
        tmp.write(data)
    os.replace(tmp.name, path)
