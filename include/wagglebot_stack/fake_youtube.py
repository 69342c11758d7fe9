"""A loopback stand-in for YouTube's upload and read-back APIs, speaking their real
protocols. NOT YouTube.

It exists for the tests and for sample mode (``./wagglebot up`` on the bundled
sample site, without real credentials), so a new user sees the whole loop end on
a "published" page that says plainly it is this fake. What it speaks:

  GET  /o/oauth2/auth                the consent page: "allows" at once, redirecting back
                                     with a code (for the installed-app flow)
  POST /token                        OAuth 2.0 token endpoint (authorization_code and
                                     refresh_token grants)
  POST /upload/youtube/v3/videos     resumable initiation (uploadType=resumable):
                                     200 with the session in Location
  PUT  <session>                     a chunk, Content-Range: bytes a-b/N: 308 with
                                     Range: bytes=0-k, or 200 with the video at the end;
                                     Content-Range: bytes */N asks how far it got
  GET  /watch?v=ID                   a page about the video (labelled as the fake)
  GET  /youtube/v3/videos            Data API videos.list (part=id,snippet,status,
                                     statistics; id=up to 50): running totals now
  GET  /v2/reports                   Analytics API v2 reports.query, ids=channel==MINE:
                                     dimensions=day with filters=video==ID (a day's rows,
                                     held back analytics_lag_days), or dimensions=video
                                     with filters=video==A,B (totals per video)

and, to steer it: GET /_fake/videos, GET /_fake/log, POST /_fake/faults,
/_fake/faults/clear, /_fake/granted {"scopes": [...]} (what the owner allowed),
/_fake/analytics {"lag_days": n, "missing": [[id, day], ...]} and /_fake/history
{"videos": [{"id", "uploaded_at", "title", "days": [{metric: value}, ...]}]}.

Tokens carry scopes: a refresh asking for one the owner did not grant is refused
(invalid_scope), and each read API wants its own (403 insufficientPermissions, as
Google says it). Every video has a daily series of Analytics figures, day d being the
Pacific date d days after its upload's: loaded (``load_history``) or made up from its
id and upload time, steady between calls. Errors have Google's JSON shape ({"error":
{"code", "message", "errors": [{"reason"}]}}). Tests steer it with faults
(``add_fault``): a status with a reason on the n-th request of a kind, a connection
dropped mid-chunk, a delay per chunk.
"""

from __future__ import annotations

import hashlib
import html
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from wagglebot_stack.fake_http import FakeHandler, Fault, LoopbackFake, LoopbackState, cli, serve
from wagglebot_stack.fake_youtube_figures import (
    Refused,
    etag,
    iso,
    report_table,
    video_item,
    videos_refusal,
)

UPLOAD_PATH = "/upload/youtube/v3/videos"
VIDEOS_PATH = "/youtube/v3/videos"
REPORTS_PATH = "/v2/reports"
_AUTH = "https://www.googleapis.com/auth/"
UPLOAD = _AUTH + "youtube.upload"
READONLY = _AUTH + "youtube.readonly"
ANALYTICS = _AUTH + "yt-analytics.readonly"
# Any one of these lets a token call the method (its discovery document's list; for
# reports.query, the two Analytics scopes its reference asks for).
VIDEOS_SCOPES = frozenset({READONLY, _AUTH + "youtube", _AUTH + "youtube.force-ssl",
                           _AUTH + "youtubepartner"})  # fmt: skip
REPORTS_SCOPES = frozenset({ANALYTICS, _AUTH + "yt-analytics-monetary.readonly"})
CHUNK_UNIT = 256 * 1024  # every chunk but the last is a multiple of this
_QUOTA = "The request cannot be completed because you have exceeded your quota."
_UPLOADS = "The user has exceeded the number of videos they may upload."
_TITLE = "The request metadata specifies an invalid or empty video title."
_DESCRIPTION = "The request metadata specifies an invalid video description."
REASONS = {  # reason -> (status, domain, message), as YouTube words them
    "quotaExceeded": (403, "youtube.quota", _QUOTA),
    "uploadLimitExceeded": (400, "youtube.video", _UPLOADS),
    "rateLimitExceeded": (403, "usageLimits", "The request was rate limited."),
    "invalidTitle": (400, "youtube.video", _TITLE),
    "invalidDescription": (400, "youtube.video", _DESCRIPTION),
    "authError": (401, "global", "Invalid Credentials"),
    "backendError": (503, "global", "Backend Error"),
}


# Faults (fake_http.Fault) go on "init", "chunk", "status", "token", "stats" (videos.list)
# or "reports": a ``status`` and/or a ``reason`` from REASONS answer Google's error; ``drop``
# (a chunk) reads half of it, then closes the connection.


@dataclass
class UploadSession:
    upload_id: str
    metadata: dict
    total: int
    path: Path
    received: int = 0
    video_id: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class FakeState(LoopbackState[Fault]):
    folder: Path
    refresh_token: str
    tokens: dict[str, frozenset[str]] = field(default_factory=dict)  # valid now -> scopes
    issued: list[str] = field(default_factory=list)  # every access token handed out
    codes: dict[str, str] = field(default_factory=dict)  # unexchanged consent code -> scope
    granted: set[str] = field(default_factory=lambda: {UPLOAD, READONLY, ANALYTICS})
    sessions: dict[str, UploadSession] = field(default_factory=dict)
    videos: dict[str, dict] = field(default_factory=dict)
    analytics_lag_days: int = 2  # Google's figures arrive 48-72 h late
    missing_days: set[tuple[str, str]] = field(default_factory=set)  # (id, day) withheld
    clock: Callable[[], datetime] = _utcnow  # tests may move time

    def grant(self, scopes: Iterable[str]) -> None:
        with self.lock:
            self.granted = set(scopes)

    def set_analytics(
        self, lag_days: int | None = None, missing: Iterable[Iterable[str]] | None = None
    ) -> None:
        with self.lock:
            if lag_days is not None:
                self.analytics_lag_days = int(lag_days)
            if missing is not None:
                self.missing_days = {(str(v), str(d)) for v, d in missing}

    def load_history(self, videos: list[dict]) -> None:
        """Add (or replace) videos with a known past: uploaded_at, and optional daily rows
        (day d = the Pacific date d days after the upload's; without: a made-up series)."""
        with self.lock:
            for video in videos:
                moment = datetime.fromisoformat(video["uploaded_at"])
                uploaded = iso(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
                self.videos[video["id"]] = {
                    "kind": "youtube#video",
                    "id": video["id"],
                    "snippet": {"title": video.get("title", "")},
                    "status": {"privacyStatus": "public", "uploadStatus": "processed"},
                    "bytes": 0,
                    "sha256": "",
                    "uploaded_at": uploaded,
                    "days": [dict(day) for day in video["days"]] if "days" in video else None,
                }


class _Handler(FakeHandler[FakeState]):
    server_version = "FakeYouTube/1.0 (WaggleBot loopback stand-in)"

    # --- Google's answers -------------------------------------------------------------

    def _error(self, reason: str, status: int | None = None) -> None:
        code, domain, message = REASONS.get(reason, (status or 400, "global", reason))
        error = {"message": message, "domain": domain, "reason": reason}
        headers = {"WWW-Authenticate": 'Bearer realm="fake"'} if code == 401 else None
        self._json(status or code, {"error": {"code": status or code, "message": message,
                                              "errors": [error]}}, headers)  # fmt: skip

    def _apply(self, fault: Fault | None, kind: str, **extra: object) -> bool:
        """Answer with the fault, if there is one; True when it answered."""
        if fault is None:
            return False
        if fault.delay:
            time.sleep(fault.delay)
        if fault.status or fault.reason:
            if fault.status == 401 or fault.reason == "authError":
                with self.state.lock:
                    self.state.tokens.clear()  # the token expired: the client must refresh
            self._record(kind, fault.status or REASONS[fault.reason][0], fault=True, **extra)
            self._error(fault.reason or "backendError", fault.status)  # after its log entry
            return True
        return False

    def _token_scopes(self) -> frozenset[str] | None:
        """The request's token's scopes, or None when the token is not valid."""
        token = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        with self.state.lock:
            return self.state.tokens.get(token)

    def _authorised(self) -> bool:  # uploads take any valid token
        return self._token_scopes() is not None

    def _refuse(self, kind: str, code: int, error: dict, message: str | None = None,
                status: str | None = None, headers: dict[str, str] | None = None,
                **extra: object) -> None:  # fmt: skip
        """Google's error body with ``error`` as its one detail, and a log entry."""
        body: dict = {"code": code, "message": message or error["message"], "errors": [error]}
        if status:
            body["status"] = status
        self._record(kind, code, **extra)  # before the answer: a test may read it at once
        self._json(code, {"error": body}, headers)

    def _allowed(self, kind: str, scopes: frozenset[str], **extra: object) -> bool:
        """Whether the token may call this: 401 when it is not valid, 403 (Google's
        insufficient-scopes answer) when it carries none of ``scopes``."""
        held = self._token_scopes()
        if held is None:
            self._record(kind, 401, **extra)
            self._error("authError")
            return False
        if held & scopes:
            return True
        wanted = " ".join(sorted(scopes))
        challenge = f'Bearer realm="fake", error="insufficient_scope", scope="{wanted}"'
        error = {"message": "Insufficient Permission", "domain": "global",
                 "reason": "insufficientPermissions"}  # fmt: skip
        self._refuse(kind, 403, error, "Request had insufficient authentication scopes.",
                     "PERMISSION_DENIED", {"WWW-Authenticate": challenge}, **extra)  # fmt: skip
        return False

    # --- endpoints --------------------------------------------------------------------

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/token":
            return self._token()
        if url.path == UPLOAD_PATH and parse_qs(url.query).get("uploadType") == ["resumable"]:
            return self._initiate(url.query)
        if url.path == UPLOAD_PATH and parse_qs(url.query).get("uploadType") == ["multipart"]:
            return self._one_shot()
        if not self._steering(url.path, self._body()):
            self._error("notFound", 404)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/o/oauth2/auth":
            return self._consent(parse_qs(url.query))
        if url.path == "/watch":
            return self._watch(parse_qs(url.query).get("v", [""])[0])
        if url.path == VIDEOS_PATH:
            return self._videos_list(parse_qs(url.query))
        if url.path == REPORTS_PATH:
            return self._reports(parse_qs(url.query))
        if not self._steering(url.path):
            self._error("notFound", 404)

    def do_PUT(self) -> None:
        url = urlsplit(self.path)
        upload_id = parse_qs(url.query).get("upload_id", [""])[0]
        session = self.state.sessions.get(upload_id)
        spec = self.headers.get("Content-Range", "")
        kind = "status" if spec.startswith("bytes */") else "chunk"
        if session is None:
            self._body()
            self._record(kind, 404)
            return self._error("notFound", 404)
        fault = self.state.fault_for(kind)
        if fault and fault.drop:
            return self._drop_half(kind, range=spec)
        if self._apply(fault, kind, range=spec, wire=self._length()):
            self._body()
            return
        if not self._authorised():
            self._body()
            self._record(kind, 401)
            return self._error("authError")
        if kind == "status":
            self._body()
            return self._progress(session, kind, spec)
        self._chunk(session, spec, self._body())

    # --- steering: /_fake/ ------------------------------------------------------------

    def _view(self, path: str) -> object | None:
        if path == "/_fake/videos":
            with self.state.lock:
                return list(self.state.videos.values())
        return None

    def _steer(self, path: str, data: Any) -> object | None:
        if path == "/_fake/granted":
            self.state.grant(data["scopes"])
            return {"granted": sorted(self.state.granted)}
        if path == "/_fake/analytics":
            self.state.set_analytics(data.get("lag_days"), data.get("missing"))
            return {"lag_days": self.state.analytics_lag_days,
                    "missing": sorted(self.state.missing_days)}  # fmt: skip
        if path == "/_fake/history":
            self.state.load_history(data["videos"])
            return {"videos": len(data["videos"])}
        return None

    # --- OAuth and uploads ------------------------------------------------------------

    def _consent(self, query: dict[str, list[str]]) -> None:
        """A person who clicks Allow at once: back to the app's loopback address with a code."""
        code = "fake-code-" + secrets.token_urlsafe(12)
        back = query.get("redirect_uri", [""])[0]
        state = query.get("state", [""])[0]
        scope = query.get("scope", [""])[0]
        with self.state.lock:
            self.state.codes[code] = scope  # the exchange grants what was asked here
        self._record("consent", 302)
        target = f"{back}?{urlencode({'state': state, 'code': code, 'scope': scope})}"
        self._send(302, b"", {"Location": target})

    def _token(self) -> None:
        form = parse_qs(self._body().decode())
        if self._apply(self.state.fault_for("token"), "token"):
            return
        grant = form.get("grant_type", [""])[0]
        asked = form.get("scope", [""])[0].split()  # google-auth sends the credentials' scopes
        with self.state.lock:
            if grant == "authorization_code":
                consented = self.state.codes.pop(form.get("code", [""])[0], None)  # works once
                good, asked = consented is not None, (consented or "").split()
            else:
                good = grant == "refresh_token" and form.get("refresh_token") == [
                    self.state.refresh_token
                ]
            granted = set(self.state.granted)
        if not good:
            self._record("token", 400)
            return self._json(400, {"error": "invalid_grant", "error_description": "Bad Request"})
        if grant == "refresh_token" and not set(asked) <= granted:  # more than the owner allowed
            self._record("token", 400, scope=" ".join(asked))
            return self._json(400, {"error": "invalid_scope", "error_description": "Bad Request"})
        if asked or grant == "authorization_code":  # consent grants what it asked, if allowed
            scopes = [s for s in dict.fromkeys(asked) if s in granted]
        else:  # a refresh without scope: all the refresh token carries
            scopes = sorted(granted)
        token = "fake-access-" + secrets.token_urlsafe(24)
        with self.state.lock:
            self.state.tokens[token] = frozenset(scopes)
            self.state.issued.append(token)
        self._record("token", 200)
        answer = {"access_token": token, "expires_in": 3599, "token_type": "Bearer",
                  "scope": " ".join(scopes)}  # fmt: skip
        if grant == "authorization_code":
            answer["refresh_token"] = self.state.refresh_token
        self._json(200, answer)

    def _refusal(self, metadata: dict) -> str | None:
        snippet = metadata.get("snippet", {})
        title = snippet.get("title", "")
        if not title or len(title) > 100 or "<" in title or ">" in title:
            return "invalidTitle"
        description = snippet.get("description", "")
        if "<" in description or ">" in description:
            return "invalidDescription"
        return None

    def _one_shot(self) -> None:
        """uploadType=multipart: the metadata and the whole video in one request (what the
        client does by default, without resumable=True); all or nothing."""
        body = self._body()
        if not self._authorised():
            self._record("multipart", 401)
            return self._error("authError")
        # multipart/related: a JSON part, then the media part (split by hand: fast on
        # large bodies, where the email parser would copy and decode line by line).
        boundary = self.headers["Content-Type"].split("boundary=", 1)[1].strip('"').encode()
        parts = body.split(b"--" + boundary)
        metadata = json.loads(_part_content(parts[1]))
        media = _part_content(parts[2])
        if refusal := self._refusal(metadata):
            self._record("multipart", 400)
            return self._error(refusal)
        session = UploadSession(secrets.token_urlsafe(16), metadata, len(media),
                                self.state.folder / f"{secrets.token_hex(8)}.bin")  # fmt: skip
        session.path.write_bytes(media)
        session.received = len(media)
        self._record("multipart", 200, wire=len(body))
        self._json(200, self._finish(session))

    def _initiate(self, query: str) -> None:
        body = self._body()
        if self._apply(self.state.fault_for("init"), "init"):
            return
        if not self._authorised():
            self._record("init", 401)
            return self._error("authError")
        metadata = json.loads(body or b"{}")
        if refusal := self._refusal(metadata):
            self._record("init", 400)
            return self._error(refusal)
        total = int(self.headers.get("X-Upload-Content-Length") or 0)
        upload_id = secrets.token_urlsafe(16)
        session = UploadSession(upload_id, metadata, total, self.state.folder / f"{upload_id}.bin")
        session.path.write_bytes(b"")
        with self.state.lock:
            self.state.sessions[upload_id] = session
        location = f"{self.root}{UPLOAD_PATH.lstrip('/')}?{query}&upload_id={upload_id}"
        self._record("init", 200, total=total)
        self._send(200, b"", {"Location": location, "X-GUploader-UploadID": upload_id})

    def _chunk(self, session: UploadSession, spec: str, data: bytes) -> None:
        try:
            span, total = spec.removeprefix("bytes ").split("/")
            first, last = (int(x) for x in span.split("-"))
        except ValueError:
            self._record("chunk", 400, range=spec)
            return self._error("badContentRange", 400)
        last_chunk = last + 1 == int(total)
        if (
            len(data) != last - first + 1
            or first > session.received
            or (not last_chunk and len(data) % CHUNK_UNIT)
        ):
            self._record("chunk", 400, range=spec)
            return self._error("badContentRange", 400)
        with session.lock:  # a late copy of a chunk (its client timed out) may race the resend
            resent = min(session.received - first, len(data))  # bytes it had, sent again
            if session.video_id is None:
                with session.path.open("r+b") as out:
                    out.seek(first)
                    out.write(data)
                session.received = max(session.received, last + 1)
        self._progress(session, "chunk", spec, sent=len(data), resent=resent, wire=len(data))

    def _progress(self, session: UploadSession, kind: str, spec: str, **extra: object) -> None:
        if session.received >= session.total and session.total:
            video = self._finish(session)
            self._record(kind, 200, range=spec, **extra)
            return self._json(200, video)
        headers = {"Range": f"bytes=0-{session.received - 1}"} if session.received else {}
        self._record(kind, 308, range=spec, **extra)
        self._send(308, b"", headers)

    def _finish(self, session: UploadSession) -> dict:
        with self.state.lock:
            if session.video_id is None:
                session.video_id = secrets.token_urlsafe(8)[:11]
                data = session.path.read_bytes()
                snippet = session.metadata.get("snippet", {})
                status = dict(session.metadata.get("status", {}))
                status.update(uploadStatus="uploaded")
                self.state.videos[session.video_id] = {
                    "kind": "youtube#video",
                    "id": session.video_id,
                    "snippet": snippet,
                    "status": status,
                    "bytes": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "uploaded_at": iso(self.state.clock()),
                    "days": None,  # a made-up series, from the id and the upload time
                }
            video = self.state.videos[session.video_id]
        return {k: video[k] for k in ("kind", "id", "snippet", "status")}

    # --- read-back ----------------------------------------------------------------------

    def _videos_list(self, query: dict[str, list[str]]) -> None:
        """videos.list by id: the known videos in the order asked, unknown ids left out."""
        asked = [i for value in query.get("id", []) for i in value.split(",") if i]
        if self._apply(self.state.fault_for("stats"), "stats", ids=len(asked)):
            return
        if not self._allowed("stats", VIDEOS_SCOPES, ids=len(asked)):
            return
        parts = [p for value in query.get("part", []) for p in value.split(",") if p]
        if refusal := videos_refusal(parts, asked):
            return self._refuse("stats", 400, refusal, ids=len(asked))
        now = self.state.clock()
        with self.state.lock:
            videos = [self.state.videos[i] for i in dict.fromkeys(asked) if i in self.state.videos]
        items = [video_item(video, parts, now) for video in videos]
        self._record("stats", 200, ids=len(asked))
        self._json(200, {"kind": "youtube#videoListResponse", "etag": etag(items),
                         "items": items, "pageInfo": {"totalResults": len(items),
                                                      "resultsPerPage": len(items)}})  # fmt: skip

    def _reports(self, query: dict[str, list[str]]) -> None:
        """reports.query, for the two queries a channel's read-back makes (a video's days,
        several videos' totals); any other is "not supported", as Google says of many."""
        asked = {name: values[-1] for name, values in query.items()}
        if self._apply(self.state.fault_for("reports"), "reports"):
            return
        if not self._allowed("reports", REPORTS_SCOPES):
            return
        with self.state.lock:
            videos = dict(self.state.videos)
            lag, missing = self.state.analytics_lag_days, set(self.state.missing_days)
        try:
            table = report_table(asked, videos, self.state.clock(), lag, missing)
        except Refused as refused:
            return self._refuse("reports", refused.code, refused.error)
        rows = len(table.get("rows", []))
        self._record("reports", 200, dimensions=asked.get("dimensions", ""), rows=rows)
        self._json(200, table)

    def _watch(self, video_id: str) -> None:
        with self.state.lock:
            video = self.state.videos.get(video_id)
        if video is None:
            return self._send(404, b"no such video", kind="text/plain; charset=utf-8")
        title = html.escape(video["snippet"].get("title", ""))
        privacy = html.escape(video["status"].get("privacyStatus", "?"))
        page = (
            "<!doctype html><meta charset=utf-8><title>Fake YouTube (loopback)</title>"
            "<p><b>This is WaggleBot's loopback stand-in for YouTube, not YouTube.</b> "
            "Sample mode published here so the whole loop can be seen without an account.</p>"
            f"<h1>{title}</h1><p>video id {html.escape(video_id)}, "
            f"{video['bytes']:,} bytes, privacy {privacy}"
            "</p>"
        )
        self._html(200, page)


def _part_content(part: bytes) -> bytes:
    """A multipart part's content: after its headers' blank line, without the line end
    before the next boundary (the client's email generator writes \n, others \r\n)."""
    ends = [i for i in (part.find(b"\r\n\r\n"), part.find(b"\n\n")) if i >= 0]
    start = min(ends)
    content = part[start:].removeprefix(b"\r\n\r\n").removeprefix(b"\n\n")
    return (
        content.removesuffix(b"\r\n") if content.endswith(b"\r\n") else content.removesuffix(b"\n")
    )


# --- read-back: answers ----------------------------------------------------------------


class FakeYouTube(LoopbackFake[FakeState]):
    """The fake, on its own thread; ``url`` is its root, e.g. http://127.0.0.1:8799/."""

    def __init__(self, port: int = 0, *, refresh_token: str, folder: Path | None = None) -> None:
        super().__init__(_Handler, lambda folder: FakeState(folder, refresh_token),
                         port=port, folder=folder, prefix="fake-youtube-")  # fmt: skip

    def videos(self) -> list[dict]:
        with self.state.lock:
            return list(self.state.videos.values())

    def grant(self, scopes: Iterable[str]) -> None:
        """What the channel's owner allows: a refresh asking for more is refused."""
        self.state.grant(scopes)

    def set_analytics(
        self, lag_days: int | None = None, missing: Iterable[Iterable[str]] | None = None
    ) -> None:
        """How late Analytics rows arrive (days), and which (video id, day) rows never do."""
        self.state.set_analytics(lag_days, missing)

    def load_history(self, videos: list[dict]) -> None:
        """Videos with a past: [{"id", "uploaded_at", "title", "days": [{metric: n}]}]."""
        self.state.load_history(videos)


def main() -> None:
    parser = cli("YouTube", 8799, "the sample token whose refresh token it takes")
    parser.add_argument(
        "--analytics-lag-days",
        type=int,
        default=2,
        help="days before Analytics has a day's figures (YouTube: 2-3)",
    )
    args = parser.parse_args()
    refresh = json.loads(args.token_file.read_text())["refresh_token"]
    fake = FakeYouTube(args.port, refresh_token=refresh, folder=args.folder)
    fake.set_analytics(lag_days=args.analytics_lag_days)
    serve(fake, "YouTube")


if __name__ == "__main__":
    main()
