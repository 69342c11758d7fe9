"""Publishing a Short to TikTok: the Content Posting API's Direct Post, FILE_UPLOAD.

Four calls per post (developers.tiktok.com, Content Posting API):

1. ``creator_info/query``: the privacy levels this creator may post with and the longest
   video; a Short longer, or a privacy level not offered, is refused before any upload.
2. ``post/publish/video/init``: the post's caption, privacy and AI-generated label, and
   the chunk plan; TikTok answers a ``publish_id`` and an ``upload_url`` (valid 1 h).
   Both go to the journal before any byte is sent.
3. PUTs of the chunks, in order, with ``Content-Range``: 206 while more are expected, 201
   when all are in. A 416 says how far TikTok got (its ``Content-Range``); sending goes on
   from there. 5xx and dropped connections are retried with backoff on the same chunk.
4. ``post/publish/status/fetch`` until ``PUBLISH_COMPLETE`` (published) or ``FAILED``
   (refused, with TikTok's ``fail_reason``).

A run that finds a ``publish_id`` in the journal asks its status first: complete is
the post (never posted again); still uploading with a live ``upload_url`` resumes at
TikTok's ``uploaded_bytes``; anything else that published nothing (failed, the URL
expired) starts a new post. Access tokens last a day and are refreshed from the stored
refresh token, which TikTok rotates: each new one is written back at once. No token is
logged.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from wagglebot.publish import (
    CredentialsRefused,
    Published,
    PublishError,
    PublishRejected,
    QuotaExhausted,
    ShortUpload,
    UploadJournal,
)
from wagglebot.publish.backoff import Backoff, Retry, json_of

log = logging.getLogger(__name__)

API = "https://open.tiktokapis.com/"
WEB = "https://www.tiktok.com/"  # where a public post is seen: @<username>/video/<post id>
CHUNK_BYTES = 10_000_000  # within 5-64 MB whether TikTok's "MB" is 10^6 or 2^20 bytes
SMALL = 5 * 1024 * 1024  # a file under this goes whole, in one chunk of its size
QUOTA_CODES = frozenset({"spam_risk_too_many_posts", "reached_active_user_cap"})
RETRY_CODES = frozenset({"rate_limit_exceeded", "internal_error"})
REFUSED_AUTH = "TikTok publishing is off: the TikTok token was refused; run ./wagglebot tiktok-auth"


def chunk_plan(size: int, chunk: int = CHUNK_BYTES) -> list[tuple[int, int]]:
    """(first, last) byte ranges, inclusive: ``floor(size / chunk)`` chunks, the last one
    carrying the rest (it may run to twice the chunk); a small file goes whole."""
    if size <= 0:
        raise ValueError("an empty file cannot be posted")
    if size < SMALL or size <= chunk:
        return [(0, size - 1)]
    count = size // chunk
    return [(i * chunk, size - 1 if i == count - 1 else (i + 1) * chunk - 1) for i in range(count)]


@dataclass
class TikTokToken:
    """The stored grant (``./wagglebot tiktok-auth``): refreshed, and written back as TikTok
    rotates the refresh token."""

    path: Path
    token_url: str
    _access: str | None = None
    _expires: float = 0.0

    def bearer(self, fresh: bool = False) -> str:
        if fresh or self._access is None or time.monotonic() > self._expires:
            self._refresh()
        return self._access or ""

    def _refresh(self) -> None:
        from wagglebot.publish.credentials import save_token

        info = json.loads(self.path.read_text(encoding="utf-8"))
        resp = requests.post(
            self.token_url,
            data={
                "client_key": info["client_key"],
                "client_secret": info["client_secret"],
                "grant_type": "refresh_token",
                "refresh_token": info["refresh_token"],
            },
            timeout=30,
        )
        answer = json_of(resp)
        if resp.status_code != 200 or "access_token" not in answer:
            said = answer.get("error_description") or answer.get("error") or resp.status_code
            raise CredentialsRefused(f"{REFUSED_AUTH} ({said})", str(answer.get("error", "")))
        save_token({**info, "refresh_token": answer["refresh_token"]}, self.path)  # rotated
        self._access = answer["access_token"]
        self._expires = time.monotonic() + int(answer.get("expires_in", 3600)) - 60


class TikTokPublisher:
    platform = "tiktok"

    def __init__(
        self,
        token: TikTokToken,
        *,
        api_url: str = API,
        web_url: str = WEB,
        privacy: str = "SELF_ONLY",
        chunk_bytes: int = CHUNK_BYTES,
        retries: int = 6,
        backoff_s: float = 1.0,
        poll_s: float = 5.0,
        poll_tries: int = 120,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.token, self.api = token, api_url.rstrip("/") + "/"
        self.web, self.username = web_url.rstrip("/") + "/", ""
        self.privacy, self.chunk_bytes = privacy, chunk_bytes
        self.backoff = Backoff(retries, backoff_s, sleep)
        self.poll_s, self.poll_tries, self.sleep = poll_s, poll_tries, sleep
        self.http = requests.Session()

    # --- the one method of a Publisher ---------------------------------------------------

    def upload(self, short: ShortUpload, journal: UploadJournal) -> Published:
        size = short.video.stat().st_size
        what = f"post {short.post_id}"
        task = json.loads(journal.session_uri) if journal.session_uri else None
        if task:
            status = self._status(task["publish_id"])
            if status["status"] == "PUBLISH_COMPLETE":
                log.info("%s: TikTok had published it already (%s)", what, task["publish_id"])
                return self._published(task["publish_id"], status)
            sent = int(status.get("uploaded_bytes") or 0)
            uploading = status["status"] == "PROCESSING_UPLOAD"
            if not uploading or not self._send(short.video, task, size, sent, journal, what):
                log.warning("%s: the earlier post published nothing (%s); posting anew",
                            what, status.get("fail_reason") or status["status"])  # fmt: skip
                journal.gone()
                task = None
        if task is None:
            self._check_creator(short)
            task = self._init(short, size)
            journal.started(json.dumps(task, separators=(",", ":")), size)
            if not self._send(short.video, task, size, 0, journal, what):
                raise PublishError(f"{what}: the upload_url expired before the upload ended")
        return self._await(task["publish_id"], what)

    # --- steps ---------------------------------------------------------------------------

    def _check_creator(self, short: ShortUpload) -> None:
        creator = self._api("post/publish/creator_info/query/", {})
        self.username = str(creator.get("creator_username") or "")
        options = creator.get("privacy_level_options") or []
        if self.privacy not in options:
            raise PublishRejected(
                f"TikTok offers this creator {options}, not {self.privacy} "
                "(an unaudited app may post only SELF_ONLY)",
                "privacy_level_option_mismatch",
            )

    def _init(self, short: ShortUpload, size: int) -> dict:
        plan = chunk_plan(size, self.chunk_bytes)
        chunk = plan[0][1] + 1
        metadata = short.metadata
        body = {
            "post_info": {
                "title": metadata.caption(),
                "privacy_level": self.privacy,
                "disable_duet": False,
                "disable_comment": False,
                "disable_stitch": False,
                "brand_content_toggle": False,
                "brand_organic_toggle": False,
                "is_aigc": True,  # the narration and its pictures' edit are machine-made
            },
            "source_info": {
                "source": "FILE_UPLOAD",
                "video_size": size,
                "chunk_size": chunk,
                "total_chunk_count": len(plan),
            },
        }
        data = self._api("post/publish/video/init/", body)
        return {"publish_id": data["publish_id"], "upload_url": data["upload_url"]}

    def _send(
        self, video: Path, task: dict, size: int, sent: int, journal: UploadJournal, what: str
    ) -> bool:
        """The chunks from byte ``sent`` on; False when the upload_url has expired."""
        plan = chunk_plan(size, self.chunk_bytes)
        with video.open("rb") as file:
            i = next((n for n, (_, last) in enumerate(plan) if last >= sent), len(plan))
            while i < len(plan):
                first, last = plan[i]
                file.seek(first)
                body = file.read(last - first + 1)
                put = functools.partial(self._put, task["upload_url"], body, first, last, size)
                resp = self.backoff.run(f"{what}: chunk {i + 1} of {len(plan)}", put)
                if resp.status_code == 403:
                    return False
                if resp.status_code == 416:  # TikTok has more (or less) than we thought
                    sent = _progress(resp)
                    i = next((n for n, (_, end) in enumerate(plan) if end >= sent), len(plan))
                    continue
                if resp.status_code not in (201, 206):
                    raise PublishError(f"{what}: TikTok answered {resp.status_code} to a chunk")
                journal.progressed(last + 1)
                if resp.status_code == 201:
                    return True
                i += 1
        return True

    def _put(self, url: str, body: bytes, first: int, last: int, size: int) -> requests.Response:
        resp = self.http.put(
            url,
            data=body,
            headers={
                "Content-Type": "video/mp4",
                "Content-Range": f"bytes {first}-{last}/{size}",
            },
            timeout=120,
        )
        if resp.status_code >= 500:
            raise Retry(f"TikTok answered {resp.status_code} to a chunk")
        return resp

    def _await(self, publish_id: str, what: str) -> Published:
        for _ in range(self.poll_tries):
            status = self._status(publish_id)
            if status["status"] == "PUBLISH_COMPLETE":
                return self._published(publish_id, status)
            if status["status"] == "FAILED":
                reason = status.get("fail_reason") or "no reason given"
                raise PublishRejected(f"TikTok did not publish it: {reason}", reason)
            self.sleep(self.poll_s)
        raise PublishError(f"{what}: TikTok still processing {publish_id}; the next run asks again")

    def _published(self, publish_id: str, status: dict) -> Published:
        ids = status.get("publicaly_available_post_id") or []  # (sic) TikTok's spelling
        # A SELF_ONLY post has no public id (and no address): its creator sees it in the app.
        if ids and not self.username:  # resumed: creator_info was not asked in this run
            self.username = str(self._api("post/publish/creator_info/query/", {}).get(
                "creator_username") or "")  # fmt: skip
        url = f"{self.web}@{self.username}/video/{ids[0]}" if ids else ""
        return Published("tiktok", str(ids[0]) if ids else publish_id, url, self.privacy)

    def _status(self, publish_id: str) -> dict:
        return self._api("post/publish/status/fetch/", {"publish_id": publish_id})

    # --- the API -------------------------------------------------------------------------

    def _api(self, path: str, body: dict) -> dict:
        return self.backoff.run(path, lambda: self._call(path, body))

    def _call(self, path: str, body: dict, fresh: bool = False) -> dict:
        resp = self.http.post(
            self.api + "v2/" + path,
            json=body,
            headers={"Authorization": f"Bearer {self.token.bearer(fresh)}"},
            timeout=60,
        )
        answer = json_of(resp)
        error = answer.get("error") or {}
        code, message = error.get("code", ""), error.get("message", "")
        if resp.status_code == 200 and code in ("ok", ""):
            return answer.get("data") or {}
        if code == "access_token_invalid" and not fresh:
            return self._call(path, body, fresh=True)  # expired: refresh once
        if code in QUOTA_CODES:
            raise QuotaExhausted(f"TikTok: {code}: {message}", code)
        if code in ("access_token_invalid", "scope_not_authorized"):
            raise CredentialsRefused(f"{REFUSED_AUTH} ({code}: {message})", code)
        if resp.status_code >= 500 or resp.status_code == 429 or code in RETRY_CODES:
            raise Retry(f"TikTok answered {resp.status_code} {code}")
        raise PublishRejected(f"TikTok refused ({resp.status_code} {code}): {message}", code)


def _progress(resp: requests.Response) -> int:
    """How many bytes TikTok holds, from a 416's ``Content-Range: bytes 0-k/N``."""
    span = resp.headers.get("Content-Range", "").removeprefix("bytes ").split("/")[0]
    if "-" not in span:
        return 0
    return int(span.split("-")[1]) + 1
