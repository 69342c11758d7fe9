"""Uploading a Short to YouTube: ``videos.insert``, resumable, in chunks, resumed after a death.

The protocol (google-api-python-client's, with the session kept by us):

1. Initiate: POST the metadata with ``uploadType=resumable``; YouTube answers with
   the session URI in Location. It goes to the journal (the database) before any
   byte is sent, so a run that dies later is resumed, never begun again.
2. Send chunks with ``next_chunk()`` (Content-Range: bytes a-b/N); 308 says how far
   YouTube got. A 5xx, a rate limit, a reset connection or a timeout is retried with
   exponential backoff and jitter on the same session: the library first asks
   YouTube how far it got (bytes */N) and sends only the rest.
3. A later run with a session in the journal asks the same question first: 308
   resumes where YouTube stopped, 200 means the upload had finished (the video is
   recorded, not inserted again), 404 means the session expired unfinished (a new
   one is started; no video can exist for it).

A refusal no retry fixes (bad metadata) raises ``PublishRejected`` with YouTube's own
reason, once the session, if one was started, has been asked where it stands: an
upload YouTube finished is recorded, never refused. Refused credentials (a refresh
answered invalid_grant, 401 with a fresh token) raise ``CredentialsRefused``; the
session is kept for the run after new credentials. A session is dropped only when
YouTube says it is gone (404 or 410). ``quotaExceeded`` / ``uploadLimitExceeded``
raise ``QuotaExhausted``. Tokens refresh themselves (google-auth); none is ever logged.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import socket
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httplib2
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaFileUpload

from wagglebot.publish import (
    CredentialsRefused,
    Published,
    PublishError,
    PublishRejected,
    QuotaExhausted,
    ShortUpload,
    UploadJournal,
)

log = logging.getLogger(__name__)

UPLOAD_SCOPE = "https://www.googleapis.com/auth/youtube.upload"
# videos.list of the channel's own (private too) videos; YouTube Analytics' reports.
READ_SCOPE = "https://www.googleapis.com/auth/youtube.readonly"
ANALYTICS_SCOPE = "https://www.googleapis.com/auth/yt-analytics.readonly"
SCOPES = [UPLOAD_SCOPE, READ_SCOPE, ANALYTICS_SCOPE]  # what youtube-auth asks for
CHUNK_UNIT = 256 * 1024  # YouTube takes chunks in multiples of this (but the last)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "backendError"})
QUOTA_REASONS = frozenset({"quotaExceeded", "uploadLimitExceeded", "dailyLimitExceeded"})
AUTH_REASONS = frozenset(
    {"authError", "forbidden", "insufficientPermissions", "youtubeSignupRequired"}
)
# What a dropped or stalled connection raises through httplib2.
TRANSIENT = (
    ConnectionError,
    TimeoutError,
    socket.timeout,
    http.client.HTTPException,
    httplib2.HttpLib2Error,
    TransportError,
    OSError,
)
SESSION_GONE = frozenset({404, 410})
TOKEN_REFUSED = "publishing is off: the YouTube token was refused; run ./wagglebot youtube-auth"  # noqa: S105 - a message


class _Http(httplib2.Http):
    """httplib2 as googleapiclient's own build_http makes it (308 is "resume incomplete",
    not a redirect), plus one thing for a plain-http endpoint (the loopback fake): the
    discovery document's absolute upload URL keeps https when only its host is swapped."""

    def __init__(self, plain_netloc: str | None, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.redirect_codes = self.redirect_codes - {308}
        self.plain_prefix = f"https://{plain_netloc}/" if plain_netloc else None

    def request(self, uri: str, *args: Any, **kwargs: Any) -> Any:
        if self.plain_prefix and uri.startswith(self.plain_prefix):
            uri = "http://" + uri.removeprefix("https://")
        return super().request(uri, *args, **kwargs)


class _ChunkFile(MediaFileUpload):
    """Chunks read as bytes, not as a stream slice: a request sent twice (again after a
    token refresh on 401) then carries its bytes the second time too."""

    def has_stream(self) -> bool:
        return False


def _reason(exc: HttpError) -> tuple[str, str]:
    """(reason, message) from Google's error body, e.g. ("quotaExceeded", "The request...")."""
    try:
        error = json.loads(exc.content.decode("utf-8"))["error"]
        first = (error.get("errors") or [{}])[0]
        return first.get("reason") or str(error.get("status", "")), error.get("message", "")
    except (ValueError, KeyError, TypeError, AttributeError):
        return "", (exc.content or b"").decode("utf-8", "replace")[:300]


class _SessionGone(Exception):
    pass


def google_service(
    name: str, version: str, credentials: Credentials, api_url: str = "", timeout_s: float = 120
) -> Any:
    """A Google API client (``youtube`` v3, ``youtubeAnalytics`` v2), built from the
    discovery document shipped in the wheel (no discovery request), pointed at
    ``api_url`` when given (the loopback fake)."""
    netloc = urlsplit(api_url).netloc if api_url.startswith("http://") else None
    authorised = AuthorizedHttp(credentials, http=_Http(netloc, timeout_s))
    return build(
        name,
        version,
        http=authorised,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": api_url} if api_url else None,
    )


def youtube_service(credentials: Credentials, api_url: str = "", timeout_s: float = 120) -> Any:
    """The YouTube Data API v3 client."""
    return google_service("youtube", "v3", credentials, api_url, timeout_s)


class YouTubePublisher:
    platform = "youtube"

    def __init__(
        self,
        credentials: Credentials,
        *,
        api_url: str = "",
        chunk_bytes: int = 8 * 2**20,
        retries: int = 8,
        backoff_s: float = 1.0,
        max_backoff_s: float = 64.0,
        timeout_s: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if chunk_bytes % CHUNK_UNIT:
            raise ValueError(f"chunk_bytes must be a multiple of {CHUNK_UNIT} (256 KiB)")
        self.credentials, self.api_url = credentials, api_url
        self.chunk_bytes, self.retries = chunk_bytes, retries
        self.backoff_s, self.max_backoff_s, self.timeout_s = backoff_s, max_backoff_s, timeout_s
        self.sleep = sleep

    # --- the one method of a Publisher ---------------------------------------------------

    def upload(self, short: ShortUpload, journal: UploadJournal) -> Published:
        media = _ChunkFile(
            str(short.video), mimetype="video/mp4", chunksize=self.chunk_bytes, resumable=True
        )
        videos = youtube_service(self.credentials, self.api_url, self.timeout_s).videos()
        request = videos.insert(
            part="snippet,status",
            body=short.metadata.youtube_body(),
            media_body=media,
            notifySubscribers=False,
        )
        size = media.size()
        what = f"post {short.post_id}"
        video = None
        if journal.session_uri:
            video = self._retrying(f"{what}: asking how far the upload got", lambda: (
                self._ask_progress(request, journal.session_uri, size)
            ))  # fmt: skip
            if video:
                log.info(
                    "%s: YouTube had finished this upload already: video %s", what, video["id"]
                )
        while video is None:
            if request.resumable_uri is None:
                self._retrying(f"{what}: starting the upload", lambda: (
                    self._initiate(request, size, journal)
                ))  # fmt: skip
            try:
                video = self._retrying(
                    f"{what}: sending", lambda: self._send(request, journal, what)
                )
            except _SessionGone:
                log.warning("%s: the upload session expired unfinished; starting a new one", what)
                request.resumable_uri, request.resumable_progress = None, 0
                journal.gone()
            except PublishRejected as refusal:
                video = self._before_refusing(request, journal, size, what, refusal)
        status = video.get("status") or {}
        return Published(
            "youtube", video["id"], self.watch_url(video["id"]), status.get("privacyStatus", "")
        )

    def watch_url(self, video_id: str) -> str:
        if self.api_url:
            return f"{self.api_url.rstrip('/')}/watch?v={video_id}"
        return f"https://www.youtube.com/shorts/{video_id}"

    # --- steps ---------------------------------------------------------------------------

    def _initiate(self, request: Any, size: int, journal: UploadJournal) -> None:
        headers = {
            **request.headers,
            "X-Upload-Content-Type": "video/mp4",
            "X-Upload-Content-Length": str(size),
            "content-length": str(request.body_size),
        }
        resp, content = request.http.request(
            request.uri, method=request.method, body=request.body, headers=headers
        )
        if resp.status != 200 or "location" not in resp:
            raise HttpError(resp, content, uri=request.uri)
        request.resumable_uri, request.resumable_progress = resp["location"], 0
        journal.started(request.resumable_uri, size)
        log.info("upload session started for %.1f MiB", size / 2**20)

    def _before_refusing(
        self, request: Any, journal: UploadJournal, size: int, what: str,
        refusal: PublishRejected,
    ) -> dict:  # fmt: skip
        """YouTube refused a chunk for good: ask its session once where it stands first.
        A finished upload is the video; a gone session is dropped; else the refusal
        stands, and the session is kept."""
        session_uri = request.resumable_uri
        if session_uri:
            video = self._retrying(f"{what}: asking the session before giving up", lambda: (
                self._ask_progress(request, session_uri, size)
            ))  # fmt: skip
            if video:
                log.info("%s: YouTube had the whole upload after all: video %s", what,
                         video["id"])  # fmt: skip
                return video
            if request.resumable_uri is None:
                journal.gone()
        raise refusal

    def _ask_progress(self, request: Any, session_uri: str, size: int) -> dict | None:
        """Ask a session how far it got: the video if it finished, else None (resume set)."""
        headers = {"Content-Range": f"bytes */{size}", "Content-Length": "0"}
        resp, content = request.http.request(session_uri, "PUT", headers=headers)
        if resp.status in (200, 201):
            return json.loads(content)
        if resp.status in SESSION_GONE:
            log.warning("the upload session is gone (%d): a new one will start", resp.status)
            request.resumable_uri, request.resumable_progress = None, 0
            return None
        if resp.status != 308:
            raise HttpError(resp, content, uri=session_uri)
        request.resumable_uri = session_uri
        request.resumable_progress = int(resp["range"].split("-")[1]) + 1 if "range" in resp else 0
        log.info("resuming at %.1f of %.1f MiB", request.resumable_progress / 2**20, size / 2**20)
        return None

    def _send(self, request: Any, journal: UploadJournal, what: str) -> dict | None:
        """One chunk; the video once YouTube has the whole file, else None."""
        try:
            progress, video = request.next_chunk()
        except HttpError as exc:
            if exc.resp.status in SESSION_GONE:
                raise _SessionGone from exc
            raise
        if video is not None:
            return video
        journal.progressed(progress.resumable_progress)
        log.info(
            "%s: %.1f of %.1f MiB sent (%d %%)",
            what,
            progress.resumable_progress / 2**20,
            progress.total_size / 2**20,
            progress.progress() * 100,
        )
        return None

    def _retrying(self, what: str, call: Callable[[], Any]) -> Any:
        for attempt in range(self.retries + 1):
            try:
                return call()
            except HttpError as exc:
                reason, message = _reason(exc)
                status = exc.resp.status
                if reason in QUOTA_REASONS:
                    raise QuotaExhausted(f"YouTube: {reason}: {message}", reason) from None
                if status == 401 or reason in AUTH_REASONS:
                    raise CredentialsRefused(
                        f"{TOKEN_REFUSED} (YouTube answered {status} {reason or ''}: "
                        f"{message[:200]})".replace(" :", ":"),
                        reason or str(status),
                    ) from None
                if status not in RETRY_STATUSES and reason not in RETRY_REASONS:
                    raise PublishRejected(
                        f"YouTube refused ({status} {reason or 'no reason'}): {message}",
                        reason or str(status),
                    ) from None
                problem = f"YouTube answered {status} {reason}".strip()
            except RefreshError as exc:
                said = exc.args[0] if exc.args else exc
                raise CredentialsRefused(f"{TOKEN_REFUSED} ({said})", "invalid_grant") from None
            except TRANSIENT as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if attempt == self.retries:
                raise PublishError(f"{what}: gave up after {attempt + 1} tries; last: {problem}")
            # Full jitter: runs that failed together do not retry together.
            delay = random.uniform(0, min(self.max_backoff_s, self.backoff_s * 2**attempt))  # noqa: S311
            log.warning("%s: %s; try %d of %d in %.1f s", what, problem, attempt + 2,
                        self.retries + 1, delay)  # fmt: skip
            self.sleep(delay)
        raise AssertionError("unreachable")
