"""A loopback stand-in for TikTok's Content Posting API (Direct Post, FILE_UPLOAD) and
its OAuth (Login Kit for Desktop, with PKCE), speaking their real protocols. NOT TikTok.

It exists for the tests and for sample mode, like ``fake_youtube``: a new user sees the
whole loop end on a "published" page that says plainly it is this fake. What it speaks,
on its own root (TikTok splits these over www.tiktok.com, open.tiktokapis.com and an
upload host):

  GET  /v2/auth/authorize/                 consent "allowed at once": 302 back to the
                                           redirect_uri with code, scopes and state
  POST /v2/oauth/token/                    authorization_code (with the PKCE verifier)
                                           and refresh_token grants; a refresh rotates
                                           the refresh token
  POST /v2/post/publish/creator_info/query/   the creator's name and privacy options
  POST /v2/post/publish/video/init/        a Direct Post with source FILE_UPLOAD: the
                                           chunk plan checked, a publish_id and upload_url
  PUT  /video/?upload_id=..&upload_token=..   a chunk, Content-Range: bytes a-b/N: 206
                                           while more are expected, 201 when all are in
  POST /v2/post/publish/status/fetch/      PROCESSING_UPLOAD, then PUBLISH_COMPLETE (or
                                           FAILED with a fail_reason)
  GET  /@wagglebot/video/<publish id>      a page about the post (labelled as the fake)

and, to steer it: GET /_fake/posts, GET /_fake/log, POST /_fake/faults,
/_fake/faults/clear and /_fake/config {"audited", "daily_cap", "processing_polls",
"upload_url_ttl_s", "max_video_post_duration_sec"} (GET gives the current values).

API answers have TikTok's v2 envelope, {"data": {...}, "error": {"code", "message",
"log_id"}}; OAuth errors its OAuth shape, {"error", "error_description", "log_id"}.
Tests steer it with faults (``add_fault``): an HTTP status with TikTok's error code on
the n-th request of a kind, a connection dropped mid-chunk, a delay, or (on "status") a
publish that fails with a fail_reason. The log records what was asked and answered, and
whether a token came with it, never a token, code, verifier or secret.

Sources: developers.tiktok.com/doc/ content-posting-api-get-started,
content-posting-api-reference-direct-post, content-posting-api-media-transfer-guide,
content-posting-api-reference-query-creator-info,
content-posting-api-reference-get-video-status, login-kit-desktop,
oauth-user-access-token-management, oauth-error-handling, tiktok-api-v2-error-handling.
Where they leave something open, the choice is said where it is made.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit

from wagglebot_stack import fake_http
from wagglebot_stack.fake_http import FakeHandler, LoopbackFake, LoopbackState, cli, serve

AUTHORIZE_PATH = "/v2/auth/authorize/"
OAUTH_PATH = "/v2/oauth/token/"
CREATOR_INFO_PATH = "/v2/post/publish/creator_info/query/"
INIT_PATH = "/v2/post/publish/video/init/"
STATUS_PATH = "/v2/post/publish/status/fetch/"
UPLOAD_PATH = "/video/"
CREATOR_USERNAME = "wagglebot"
PAGE_PREFIX = f"/@{CREATOR_USERNAME}/video/"
OPEN_ID = "-000fake-wagglebot-open-id"

PUBLISH_SCOPE = "video.publish"
UPLOAD_SCOPE = "video.upload"  # the inbox flow's scope; status/fetch takes either
# The lifetimes the token guide gives (24 h, 365 days). A newer page of TikTok's (Nov
# 2026, "Refresh a User Access Token") says 2 h and 180 days: configure() may set either.
ACCESS_TTL_S = 86_400
REFRESH_TTL_S = 31_536_000

PUBLIC_OPTIONS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY")  # public account
# The media transfer guide says "MB" without saying 10^6 or 2^20 bytes (its 4 MB example is
# 4,194,304 bytes; its chunk example 10,000,000). The fake takes the stricter reading of
# each bound, so a plan it accepts suits either: at least 5 MiB, at most 64 (and 128) * 10^6.
MIN_CHUNK = 5 * 1024 * 1024
MAX_CHUNK = 64 * 1000 * 1000
MAX_LAST_CHUNK = 128 * 1000 * 1000
MAX_CHUNKS = 1000
MAX_VIDEO = 4 * 1024**3  # "Maximum of 4GB"
TITLE_UNITS = 2200  # UTF-16 code units ("runes", TikTok says)
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime", "video/webm"})
KINDS = frozenset({"token", "creator_info", "init", "chunk", "status"})
VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")  # RFC 7636, as the desktop guide asks
CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
BOOL_FIELDS = ("disable_duet", "disable_comment", "disable_stitch", "brand_content_toggle",
               "brand_organic_toggle", "is_aigc")  # fmt: skip

# error.code -> HTTP status, from the direct post, creator info, status and v2 error pages.
# The direct post page spells the 400 "invalid_param"; the v2 error page, like this
# fake, "invalid_params".
STATUS_OF = {
    "ok": 200,
    "invalid_params": 400,
    "invalid_file_upload": 400,
    "invalid_publish_id": 400,
    "token_not_authorized_for_specified_publish_id": 400,
    "access_token_invalid": 401,
    "scope_not_authorized": 401,
    "spam_risk_too_many_posts": 403,
    "spam_risk_user_banned_from_posting": 403,
    "reached_active_user_cap": 403,
    "unaudited_client_can_only_post_to_private_accounts": 403,
    "url_ownership_unverified": 403,
    "privacy_level_option_mismatch": 403,
    "not_found": 404,
    "rate_limit_exceeded": 429,
    "internal_error": 500,
}
MESSAGES = {
    "access_token_invalid": "The access token is invalid or not found in the request.",
    "scope_not_authorized": "The user did not authorize the scope required for completing "
    "this request.",
    "spam_risk_too_many_posts": "The daily post cap from the API is reached for the current user.",
    "unaudited_client_can_only_post_to_private_accounts": "Unaudited clients can only post to "
    "a private account.",
    "url_ownership_unverified": "To use PULL_FROM_URL the developer must verify the ownership "
    "of the URL prefix or domain.",
    "privacy_level_option_mismatch": "privacy_level is not specified or not among the "
    "privacy_level_options returned by /publish/creator_info/query/.",
    "invalid_publish_id": "The publish_id does not exist.",
    "token_not_authorized_for_specified_publish_id": "The access_token has no authorization "
    "for this publish_id.",
    "rate_limit_exceeded": "The API rate limit was exceeded. Please try again later.",
    "internal_error": "TikTok server or network error. Try again later.",
}
# A fault's default error code by HTTP status, where it gives a status only.
API_DEFAULTS = {400: "invalid_params", 401: "access_token_invalid", 404: "not_found",
                429: "rate_limit_exceeded"}  # fmt: skip
# OAuth error -> HTTP status. TikTok's OAuth error page lists the errors but no statuses;
# the fake uses RFC 6749 section 5.2's: 400, and 401 for a failed client authentication.
OAUTH_STATUS = {"invalid_client": 401}
OAUTH_DEFAULTS = {400: "invalid_grant", 401: "invalid_client"}
CONFIG_KEYS = {"audited": bool, "daily_cap": int, "processing_polls": int,
               "upload_url_ttl_s": float, "max_video_post_duration_sec": int,
               "access_ttl_s": int, "refresh_ttl_s": int}  # fmt: skip


def log_id() -> str:
    """A log id shaped like TikTok's: the UTC time to the second, then 20 hex digits."""
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(10).upper()


def code_challenge(verifier: str) -> str:
    """TikTok's desktop PKCE challenge: the lowercase hex SHA-256 of the verifier (not
    RFC 7636's base64url), sent with code_challenge_method=S256."""
    return hashlib.sha256(verifier.encode()).hexdigest()


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Fault(fake_http.Fault):
    """On "token", "creator_info", "init", "chunk" or "status": an HTTP ``status`` with
    TikTok's error ``code`` (OAuth: "error"; either one, the other follows), or on
    "status" a ``reason``: the publish FAILS with this fail_reason. ``drop`` reads half the
    body, then closes the connection."""

    kinds: ClassVar[frozenset[str]] = KINDS

    code: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.reason and self.on != "status":
            raise ValueError("a fail_reason is for status fetches only")
        if self.status or self.code:
            self.answer()  # refuses a status that has no code to go with it

    def answer(self) -> tuple[int, str]:
        """The HTTP status and error code this fault answers with."""
        oauth = self.on == "token"
        if self.code:
            status = STATUS_OF.get(self.code, 400) if not oauth else OAUTH_STATUS.get(self.code)
            return self.status or status or 400, self.code
        assert self.status is not None
        if self.status >= 500:  # TikTok's generic server error
            return self.status, "server_error" if oauth else "internal_error"
        code = (OAUTH_DEFAULTS if oauth else API_DEFAULTS).get(self.status)
        if code is None:
            raise ValueError(f"say which error code a {self.status} fault answers with")
        return self.status, code


@dataclass
class Grant:
    """What a token stands for: whose, which scopes, until when (the clock's seconds)."""

    open_id: str
    scopes: tuple[str, ...]
    expires_at: float


@dataclass
class Consent:
    """An authorization code not yet exchanged, and what its request said."""

    challenge: str
    scopes: tuple[str, ...]
    redirect_uri: str


@dataclass
class Publish:
    publish_id: str
    upload_id: str
    upload_token: str
    open_id: str
    post_info: dict
    video_size: int
    chunk_size: int
    chunk_count: int
    path: Path
    created_at: float
    expires_at: float  # of the upload_url
    received: int = 0  # bytes, all in order
    chunks: int = 0  # chunks received
    resent: int = 0  # chunks sent again and not appended
    completed_at: float | None = None  # when the last byte came
    polls: int = 0  # status fetches since then
    status: str = "PROCESSING_UPLOAD"
    fail_reason: str = ""
    post_id: int | None = None
    sha256: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def span(self, index: int) -> tuple[int, int]:
        """Chunk ``index``'s first and last byte: chunk_size each, the last the rest."""
        first = index * self.chunk_size
        last = self.video_size - 1 if index == self.chunk_count - 1 else first + self.chunk_size - 1
        return first, last

    def progress(self) -> str:
        """The Content-Range the upload host answers with: the bytes it holds."""
        if not self.received:
            return f"bytes */{self.video_size}"  # RFC 9110's form for "none yet"
        return f"bytes 0-{self.received - 1}/{self.video_size}"

    def public(self) -> bool:
        return self.post_info.get("privacy_level") == "PUBLIC_TO_EVERYONE"

    def summary(self) -> dict:
        return {
            "id": self.publish_id,
            "status": self.status,
            "fail_reason": self.fail_reason,
            "privacy_level": self.post_info.get("privacy_level"),
            "title": self.post_info.get("title", ""),
            "is_aigc": bool(self.post_info.get("is_aigc", False)),
            "post_info": dict(self.post_info),
            "video_size": self.video_size,
            "chunk_size": self.chunk_size,
            "total_chunk_count": self.chunk_count,
            "bytes": self.received,
            "chunks": self.chunks,
            "resent": self.resent,
            "sha256": self.sha256,
            "post_id": self.post_id,
        }


@dataclass
class FakeState(LoopbackState[Fault]):
    fault_type = Fault

    folder: Path
    client_key: str
    client_secret: str
    refresh_token: str  # the newest refresh token handed out (or the sample one)
    audited: bool = False  # a new app is not: only SELF_ONLY posts
    daily_cap: int = 15  # posts per creator per rolling 24 h ("typically around 15")
    processing_polls: int = 1  # status fetches answered PROCESSING_UPLOAD after the upload
    upload_url_ttl_s: float = 3600.0
    max_video_post_duration_sec: int = 600
    access_ttl_s: int = ACCESS_TTL_S
    refresh_ttl_s: int = REFRESH_TTL_S
    access: dict[str, Grant] = field(default_factory=dict)
    refresh: dict[str, Grant] = field(default_factory=dict)
    codes: dict[str, Consent] = field(default_factory=dict)
    publishes: dict[str, Publish] = field(default_factory=dict)
    uploads: dict[str, Publish] = field(default_factory=dict)  # by upload id
    clock: Callable[[], float] = time.time  # tests may move time

    def __post_init__(self) -> None:  # the sample token's refresh token, as from a consent
        self.refresh[self.refresh_token] = Grant(
            OPEN_ID, (PUBLISH_SCOPE,), self.clock() + self.refresh_ttl_s
        )

    def configure(self, **options: object) -> dict:
        unknown = set(options) - set(CONFIG_KEYS)
        if unknown:
            raise ValueError(f"no such setting: {', '.join(sorted(unknown))}")
        with self.lock:
            for name, value in options.items():
                setattr(self, name, CONFIG_KEYS[name](value))
        return self.config()

    def config(self) -> dict:
        return {name: getattr(self, name) for name in CONFIG_KEYS}

    def expire_access_tokens(self) -> None:
        with self.lock:
            self.access.clear()

    def issue(self, open_id: str, scopes: tuple[str, ...]) -> dict:
        """A new access token and refresh token (TikTok's shapes: act.*, rft.*)."""
        now = self.clock()
        access = "act.fake-" + secrets.token_urlsafe(24)
        refresh = "rft.fake-" + secrets.token_urlsafe(24)
        with self.lock:
            self.access[access] = Grant(open_id, scopes, now + self.access_ttl_s)
            self.refresh[refresh] = Grant(open_id, scopes, now + self.refresh_ttl_s)
            self.refresh_token = refresh
        return {
            "access_token": access,
            "expires_in": self.access_ttl_s,
            "open_id": open_id,
            "refresh_expires_in": self.refresh_ttl_s,
            "refresh_token": refresh,
            "scope": ",".join(scopes),
            "token_type": "Bearer",
        }

    def live_posts(self, open_id: str, now: float) -> int:
        """Posts that count against the daily cap: made in the last 24 h, not FAILED, and
        either all uploaded or with an upload_url still good (the fake's choice: a post
        whose upload was abandoned and expired no longer counts)."""
        with self.lock:
            publishes = list(self.publishes.values())
        return sum(
            1
            for p in publishes
            if p.open_id == open_id
            and p.created_at > now - 86_400
            and p.status != "FAILED"
            and (p.completed_at is not None or p.expires_at > now)
        )


class _Handler(FakeHandler[FakeState]):
    server_version = "FakeTikTok/1.0 (WaggleBot loopback stand-in)"

    # --- TikTok's answers -------------------------------------------------------------

    def _log_context(self) -> dict[str, object]:
        return {"token": "Authorization" in self.headers}  # whether one came, never its value

    def _envelope(self, kind: str, status: int, data: dict | None = None, code: str = "ok",
                  message: str | None = None, headers: dict[str, str] | None = None,
                  **extra: object) -> None:  # fmt: skip
        """TikTok's v2 answer: data, and error with its code ("ok" when it worked)."""
        error = {"code": code, "message": MESSAGES.get(code, "") if message is None else message,
                 "log_id": log_id()}  # fmt: skip
        self._record(kind, status, code=code, **extra)  # first: a test may read it at once
        self._json(status, {"data": data or {}, "error": error}, headers)

    def _oauth_error(self, error: str, description: str, **extra: object) -> None:
        status = OAUTH_STATUS.get(error, 400)
        self._record("token", status, error=error, **extra)
        self._json(status, {"error": error, "error_description": description, "log_id": log_id()})

    def _begin(self, kind: str, **extra: object) -> tuple[bytes, Fault | None] | None:
        """The body, after any fault for this kind: None when the fault answered (or hung
        up). A "status" fault with a fail_reason goes on, to the handler."""
        fault = self.state.fault_for(kind)
        if fault and fault.drop:
            self._drop_half(kind, **extra)
            return None
        body = self._body()
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and (fault.status or fault.code):
            status, code = fault.answer()
            if code == "access_token_invalid":  # the token expired: the client must refresh
                self.state.expire_access_tokens()
            if kind == "token":
                self._record(kind, status, error=code, fault=True, **extra)
                self._json(status, {"error": code, "error_description": "fault",
                                    "log_id": log_id()})  # fmt: skip
            else:
                self._envelope(kind, status, code=code, fault=True, **extra)
            return None
        return body, fault

    def _grant(self, kind: str, scopes: frozenset[str]) -> Grant | None:
        """The bearer token's grant: 401 access_token_invalid when it is unknown or expired,
        401 scope_not_authorized when it has none of ``scopes``."""
        token = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        with self.state.lock:
            grant = self.state.access.get(token)
        if grant is None or grant.expires_at <= self.state.clock():
            self._envelope(kind, 401, code="access_token_invalid")
            return None
        if not scopes & set(grant.scopes):
            self._envelope(kind, 401, code="scope_not_authorized")
            return None
        return grant

    def _json_body(self, kind: str, body: bytes) -> dict | None:
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            self._envelope(
                kind, 400, code="invalid_params", message="The body is not a JSON object."
            )
            return None
        return data

    # --- routes -----------------------------------------------------------------------

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == AUTHORIZE_PATH:
            return self._authorize(parse_qs(url.query))
        if url.path.startswith(PAGE_PREFIX):
            return self._page(url.path.removeprefix(PAGE_PREFIX).strip("/"))
        if url.path == "/_fake/avatar.svg":
            return self._send(200, _AVATAR, kind="image/svg+xml")
        if not self._steering(url.path):
            self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        handler = {
            OAUTH_PATH: self._token,
            CREATOR_INFO_PATH: self._creator_info,
            INIT_PATH: self._init,
            STATUS_PATH: self._status,
        }.get(path)
        if handler:
            return handler()
        if not self._steering(path, self._body()):
            self._json(404, {"error": "not_found"})

    def do_PUT(self) -> None:
        url = urlsplit(self.path)
        if url.path != UPLOAD_PATH:
            self._body()
            return self._json(404, {"error": "not_found"})
        self._chunk(parse_qs(url.query))

    # --- steering: /_fake/ ------------------------------------------------------------

    def _view(self, path: str) -> object | None:
        if path == "/_fake/posts":
            with self.state.lock:
                publishes = list(self.state.publishes.values())
            return [p.summary() for p in publishes]
        if path == "/_fake/config":
            return self.state.config()
        return None

    def _steer(self, path: str, data: Any) -> object | None:
        return self.state.configure(**data) if path == "/_fake/config" else None

    # --- OAuth ------------------------------------------------------------------------

    def _authorize(self, query: dict[str, list[str]]) -> None:
        """A person who clicks Authorize at once. A request TikTok would refuse gets an
        error page and no redirect (what TikTok shows, e.g. for a missing code_challenge:
        the desktop guide names no error redirect for it; the fake's choice)."""
        asked = {name: values[-1] for name, values in query.items()}
        back = asked.get("redirect_uri", "")
        where = urlsplit(back)
        problem = None
        if asked.get("client_key") != self.state.client_key:
            problem = "client_key: unknown client"
        elif asked.get("response_type") != "code":
            problem = "response_type must be code"
        elif where.scheme not in ("http", "https") or where.hostname not in (
            "localhost",
            "127.0.0.1",
        ):  # desktop redirect URIs: localhost or 127.0.0.1 only, with a port
            problem = "redirect_uri must be a loopback address (localhost or 127.0.0.1)"
        elif where.port is None or where.query or where.fragment:
            problem = "redirect_uri needs a port and no query or fragment"
        elif not asked.get("code_challenge"):
            problem = "code_challenge is required (PKCE)"
        elif asked.get("code_challenge_method") != "S256":
            problem = "code_challenge_method must be S256"
        if problem:
            self._record("consent", 400, error=problem)
            page = (
                "<!doctype html><meta charset=utf-8><title>Fake TikTok (loopback)</title>"
                "<p><b>This is WaggleBot's loopback stand-in for TikTok, not TikTok.</b></p>"
                f"<h1>We couldn't log in</h1><p>{html.escape(problem)}</p>"
            )
            return self._html(400, page)
        scopes = tuple(s for s in dict.fromkeys(asked.get("scope", "").split(",")) if s)
        code = "fake-code-" + secrets.token_urlsafe(18)
        with self.state.lock:
            self.state.codes[code] = Consent(asked["code_challenge"], scopes, back)
        self._record("consent", 302, scopes=",".join(scopes))
        answer = {"code": code, "scopes": ",".join(scopes), "state": asked.get("state", "")}
        self._send(302, b"", {"Location": f"{back}?{urlencode(answer)}"})

    def _token(self) -> None:
        begun = self._begin("token")
        if begun is None:
            return
        form = {name: values[-1] for name, values in parse_qs(begun[0].decode()).items()}
        grant_type = form.get("grant_type", "")
        if grant_type not in ("authorization_code", "refresh_token"):
            return self._oauth_error("unsupported_grant_type", "The grant type is not supported.")
        needed = ["client_key", "client_secret"]
        needed += (
            ["code", "redirect_uri", "code_verifier"]
            if grant_type == "authorization_code"
            else ["refresh_token"]
        )
        if missing := [name for name in needed if not form.get(name)]:
            return self._oauth_error(
                "invalid_request", f"Missing {', '.join(missing)}.", grant=grant_type
            )
        if form["client_key"] != self.state.client_key or not secrets.compare_digest(
            form["client_secret"], self.state.client_secret
        ):
            return self._oauth_error("invalid_client", "Client key or secret is invalid.")
        if grant_type == "authorization_code":
            return self._exchange(form)
        with self.state.lock:
            grant = self.state.refresh.get(form["refresh_token"])
            if grant is not None and grant.expires_at > self.state.clock():
                del self.state.refresh[form["refresh_token"]]  # rotated: the old one is done
            else:
                grant = None
        if grant is None:
            return self._oauth_error(
                "invalid_grant", "Refresh token is invalid or expired.", grant=grant_type
            )
        self._record("token", 200, grant=grant_type)
        self._json(200, self.state.issue(grant.open_id, grant.scopes))

    def _exchange(self, form: dict[str, str]) -> None:
        """authorization_code: a code works once (a failed try uses it up too, as
        developers report of TikTok), for the redirect_uri it was asked with, and with the
        verifier whose hex SHA-256 is its challenge."""
        with self.state.lock:
            consent = self.state.codes.pop(form["code"], None)
        if consent is None:
            return self._oauth_error(
                "invalid_grant", "Authorization code is expired.", grant="authorization_code"
            )
        if form["redirect_uri"] != consent.redirect_uri:
            return self._oauth_error(
                "invalid_grant", "Redirect URI does not match.", grant="authorization_code"
            )
        verifier = form["code_verifier"]
        if not VERIFIER.fullmatch(verifier) or not secrets.compare_digest(
            code_challenge(verifier), consent.challenge
        ):  # TikTok's answer here, as developers quote it
            return self._oauth_error(
                "invalid_request",
                "Code verifier or code challenge is invalid.",
                grant="authorization_code",
            )
        self._record("token", 200, grant="authorization_code")
        self._json(200, self.state.issue(OPEN_ID, consent.scopes))

    # --- Content Posting API ------------------------------------------------------------

    def _creator(self) -> dict:
        return {
            "creator_avatar_url": f"{self.root}_fake/avatar.svg",
            "creator_username": CREATOR_USERNAME,
            "creator_nickname": "WaggleBot (loopback fake TikTok)",
            "privacy_level_options": list(PUBLIC_OPTIONS),
            "comment_disabled": False,
            "duet_disabled": False,
            "stitch_disabled": False,
            "max_video_post_duration_sec": self.state.max_video_post_duration_sec,
        }

    def _creator_info(self) -> None:
        if self._begin("creator_info") is None:
            return
        grant = self._grant("creator_info", frozenset({PUBLISH_SCOPE}))
        if grant is None:
            return
        # Over the cap, TikTok answers 200 with the cap's code ("intentional", its page
        # says); it does not say whether data comes too: the fake sends it.
        over = self.state.live_posts(grant.open_id, self.state.clock()) >= self.state.daily_cap
        self._envelope("creator_info", 200, self._creator(),
                       "spam_risk_too_many_posts" if over else "ok")  # fmt: skip

    def _plan_refusal(self, source: dict) -> str | None:
        """Why the chunk plan breaks the media transfer guide's rules, or None."""
        sizes = [source.get(k) for k in ("video_size", "chunk_size", "total_chunk_count")]
        if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in sizes):
            return "video_size, chunk_size and total_chunk_count must be positive integers"
        size, chunk, count = sizes
        if size < MIN_CHUNK:  # under 5 MB: whole, in one chunk of the file's size
            if chunk != size or count != 1:
                return "a video under 5 MB goes whole: chunk_size = video_size, total_chunk_count 1"
            return None
        if not MIN_CHUNK <= chunk <= MAX_CHUNK:
            return f"chunk_size must be between {MIN_CHUNK} and {MAX_CHUNK} bytes"
        if count != size // chunk:
            return f"total_chunk_count must be floor(video_size / chunk_size) = {size // chunk}"
        if not 1 <= count <= MAX_CHUNKS:
            return f"total_chunk_count must be 1 to {MAX_CHUNKS}"
        if size - (count - 1) * chunk > MAX_LAST_CHUNK:
            return f"the last chunk may carry at most {MAX_LAST_CHUNK} bytes"
        if size > MAX_VIDEO:
            return "the video may be at most 4 GB"
        return None

    def _post_refusal(self, post: dict) -> tuple[str, str] | None:
        """(code, message) for a post_info TikTok refuses, or None."""
        if post.get("privacy_level") not in PUBLIC_OPTIONS:
            return "privacy_level_option_mismatch", MESSAGES["privacy_level_option_mismatch"]
        title = post.get("title", "")
        if not isinstance(title, str):
            return "invalid_params", "title must be a string"
        if utf16_units(title) > TITLE_UNITS:
            return "invalid_params", f"title is longer than {TITLE_UNITS} UTF-16 runes"
        for name in BOOL_FIELDS:
            if name in post and not isinstance(post[name], bool):
                return "invalid_params", f"{name} must be a boolean"
        cover = post.get("video_cover_timestamp_ms", 0)
        if not isinstance(cover, int) or isinstance(cover, bool):
            return "invalid_params", "video_cover_timestamp_ms must be an int32"
        return None

    def _init(self) -> None:
        """Direct Post init. The checks' order is the fake's choice (TikTok's is not
        documented): the body's shape, privacy option, title and fields, chunk plan, then
        the unaudited rule, then the daily cap."""
        kind = "init"
        begun = self._begin(kind)
        if begun is None:
            return
        grant = self._grant(kind, frozenset({PUBLISH_SCOPE}))
        if grant is None:
            return
        data = self._json_body(kind, begun[0])
        if data is None:
            return
        post, source = data.get("post_info"), data.get("source_info")
        if not isinstance(post, dict) or not isinstance(source, dict):
            return self._envelope(kind, 400, code="invalid_params",
                                  message="post_info and source_info are required")  # fmt: skip
        if source.get("source") == "PULL_FROM_URL":  # the fake has no verified domains
            return self._envelope(kind, 403, code="url_ownership_unverified")
        if source.get("source") != "FILE_UPLOAD":
            message = "source must be FILE_UPLOAD or PULL_FROM_URL"
            return self._envelope(kind, 400, code="invalid_params", message=message)
        if refusal := self._post_refusal(post):
            code, message = refusal
            return self._envelope(kind, STATUS_OF[code], code=code, message=message)
        if problem := self._plan_refusal(source):
            return self._envelope(kind, 400, code="invalid_params", message=problem)
        # An unaudited client may post SELF_ONLY only. (TikTok's pages also want the
        # account private; clients report SELF_ONLY passing on a public one, as here.)
        if not self.state.audited and post["privacy_level"] != "SELF_ONLY":
            return self._envelope(
                kind, 403, code="unaudited_client_can_only_post_to_private_accounts"
            )
        now = self.state.clock()
        if self.state.live_posts(grant.open_id, now) >= self.state.daily_cap:
            return self._envelope(kind, 403, code="spam_risk_too_many_posts")
        upload_id = str(secrets.randbelow(9 * 10**18) + 10**18)
        publish = Publish(
            publish_id=f"v_pub_file~v2-1.{secrets.randbelow(9 * 10**18) + 10**18}",
            upload_id=upload_id,
            upload_token=secrets.token_urlsafe(18),
            open_id=grant.open_id,
            post_info=dict(post),
            video_size=source["video_size"],
            chunk_size=source["chunk_size"],
            chunk_count=source["total_chunk_count"],
            path=self.state.folder / f"{upload_id}.bin",
            created_at=now,
            expires_at=now + self.state.upload_url_ttl_s,
        )
        publish.path.write_bytes(b"")
        with self.state.lock:
            self.state.publishes[publish.publish_id] = publish
            self.state.uploads[upload_id] = publish
        query = urlencode({"upload_id": upload_id, "upload_token": publish.upload_token})
        answer = {"publish_id": publish.publish_id,
                  "upload_url": f"{self.root}{UPLOAD_PATH.lstrip('/')}?{query}"}  # fmt: skip
        self._envelope(kind, 200, answer, publish_id=publish.publish_id,
                       privacy_level=post["privacy_level"], video_size=publish.video_size,
                       chunks=publish.chunk_count)  # fmt: skip

    def _chunk(self, query: dict[str, list[str]]) -> None:
        """A PUT to the upload_url: chunks in order, each the plan's span exactly. The guide
        gives the upload host's statuses (201, 206, 400, 403, 404, 416, 5xx) but not its
        error bodies: the fake sends the v2 envelope, with codes of its own for 403, 404
        and 416 (upload_url_expired, not_found, range_not_satisfiable)."""
        kind = "chunk"
        spec = self.headers.get("Content-Range", "")
        upload_id = query.get("upload_id", [""])[0]
        with self.state.lock:
            publish = self.state.uploads.get(upload_id)
        if publish is None or not secrets.compare_digest(
            publish.upload_token, query.get("upload_token", [""])[0]
        ):
            self._body()
            message = "No upload task for this upload_url."
            return self._envelope(kind, 404, code="not_found", message=message, range=spec)
        extra = {"publish_id": publish.publish_id, "range": spec}
        begun = self._begin(kind, **extra)
        if begun is None:
            return
        data = begun[0]
        if publish.completed_at is None and self.state.clock() >= publish.expires_at:
            return self._envelope(kind, 403, code="upload_url_expired",
                                  message="The upload_url has expired.", **extra)  # fmt: skip
        mime = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        match = CONTENT_RANGE.fullmatch(spec.strip())
        problem = None
        if mime not in VIDEO_TYPES:
            problem = "Content-Type must be video/mp4, video/quicktime or video/webm"
        elif match is None:
            problem = "Content-Range must be bytes {first}-{last}/{total}"
        else:
            first, last, total = (int(n) for n in match.groups())
            if total != publish.video_size:
                problem = f"the total must be the video_size, {publish.video_size}"
            elif last < first or len(data) != last - first + 1:
                problem = "Content-Length must be the size of the range, and of the body"
        if problem:
            return self._envelope(kind, 400, code="invalid_file_upload", message=problem, **extra)
        with publish.lock:  # a late copy of a chunk may race its resend
            done = [publish.span(i) for i in range(publish.chunks)]
            if publish.chunks < publish.chunk_count and (first, last) == publish.span(
                publish.chunks
            ):
                with publish.path.open("r+b") as out:
                    out.seek(first)
                    out.write(data)
                publish.received = last + 1
                publish.chunks += 1
                resent = False
            elif (first, last) in done:  # received before (its sender died): not appended
                publish.resent += 1
                resent = True
            else:  # a gap, an overlap, or a span off the plan
                resent = None
            if publish.received == publish.video_size and publish.completed_at is None:
                publish.completed_at = self.state.clock()  # posting starts
                publish.sha256 = hashlib.sha256(publish.path.read_bytes()).hexdigest()
            status = 201 if publish.completed_at is not None else 206
            progress = publish.progress()
        if resent is None:
            message = "Content-Range does not reflect the upload progress."
            return self._envelope(kind, 416, code="range_not_satisfiable", message=message,
                                  headers={"Content-Range": progress}, **extra)  # fmt: skip
        self._record(kind, status, resent=resent, sent=len(data), **extra)
        self._send(status, b"", {"Content-Range": progress})

    def _status(self) -> None:
        kind = "status"
        begun = self._begin(kind)
        if begun is None:
            return
        body, fault = begun
        grant = self._grant(kind, frozenset({PUBLISH_SCOPE, UPLOAD_SCOPE}))
        if grant is None:
            return
        data = self._json_body(kind, body)
        if data is None:
            return
        with self.state.lock:
            publish = self.state.publishes.get(str(data.get("publish_id", "")))
        if publish is None:
            return self._envelope(kind, 400, code="invalid_publish_id")
        if publish.open_id != grant.open_id:
            return self._envelope(kind, 400, code="token_not_authorized_for_specified_publish_id")
        with publish.lock:
            if fault and fault.reason and publish.status != "PUBLISH_COMPLETE":
                publish.status, publish.fail_reason = "FAILED", fault.reason
            elif publish.status == "PROCESSING_UPLOAD" and publish.completed_at is not None:
                # TikTok documents no status between the upload and the post: it stays
                # PROCESSING_UPLOAD while processing (processing_polls fetches).
                if publish.polls >= self.state.processing_polls:
                    publish.status = "PUBLISH_COMPLETE"
                    publish.post_id = secrets.randbelow(9 * 10**18) + 10**18
                publish.polls += 1
            answer: dict = {
                "status": publish.status,
                "uploaded_bytes": publish.received,
                # (sic) TikTok's spelling; ids only for public posts, once moderated
                "publicaly_available_post_id": [publish.post_id]
                if publish.status == "PUBLISH_COMPLETE" and publish.public()
                else [],
            }
            if publish.status == "FAILED":
                answer["fail_reason"] = publish.fail_reason
        self._envelope(kind, 200, answer, publish_id=publish.publish_id, post=publish.status)

    # --- the page ------------------------------------------------------------------------

    def _page(self, wanted: str) -> None:
        with self.state.lock:
            publish = next(
                (
                    p
                    for p in self.state.publishes.values()
                    if wanted == p.publish_id
                    or (p.post_id is not None and wanted == str(p.post_id))
                ),
                None,
            )
        if publish is None:
            return self._send(404, b"no such post", kind="text/plain; charset=utf-8")
        title = html.escape(str(publish.post_info.get("title", "")))
        privacy = html.escape(str(publish.post_info.get("privacy_level", "?")))
        label = " Labelled AI-generated." if publish.post_info.get("is_aigc") else ""
        page = (
            "<!doctype html><meta charset=utf-8><title>Fake TikTok (loopback)</title>"
            "<p><b>This is WaggleBot's loopback stand-in for TikTok, not TikTok.</b> "
            "Sample mode posted here so the whole loop can be seen without an account.</p>"
            f"<h1>{title}</h1><p>publish id {html.escape(publish.publish_id)}, "
            f"{publish.received:,} of {publish.video_size:,} bytes, "
            f"{html.escape(publish.status)}, privacy {privacy}.{label}</p>"
        )
        self._html(200, page)


_AVATAR = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
    b'<rect width="64" height="64" fill="#fc0"/><text x="32" y="40" font-size="14" '
    b'text-anchor="middle">fake</text></svg>'
)


class FakeTikTok(LoopbackFake[FakeState]):
    """The fake, on its own thread; ``url`` is its root, e.g. http://127.0.0.1:8798/."""

    def __init__(self, port: int = 0, *, client_key: str, client_secret: str,
                 refresh_token: str, folder: Path | None = None,
                 **options: object) -> None:  # fmt: skip
        def state(folder: Path) -> FakeState:
            state = FakeState(folder, client_key, client_secret, refresh_token)
            state.configure(**options)
            return state

        super().__init__(_Handler, state, port=port, folder=folder, prefix="fake-tiktok-")

    @classmethod
    def from_token_file(cls, path: Path, port: int = 0, folder: Path | None = None,
                        **options: object) -> FakeTikTok:  # fmt: skip
        """Built from a token file holding refresh_token, client_key and client_secret."""
        token = json.loads(Path(path).read_text())
        return cls(port, client_key=token["client_key"], client_secret=token["client_secret"],
                   refresh_token=token["refresh_token"], folder=folder, **options)  # fmt: skip

    @property
    def refresh_token(self) -> str:
        """The newest refresh token handed out (a refresh rotates it)."""
        with self.state.lock:
            return self.state.refresh_token

    def configure(self, **options: object) -> dict:
        """audited, daily_cap, processing_polls, upload_url_ttl_s,
        max_video_post_duration_sec, access_ttl_s, refresh_ttl_s; the settings now."""
        return self.state.configure(**options)

    def expire_access_tokens(self) -> None:
        """Every access token handed out stops working (401 access_token_invalid)."""
        self.state.expire_access_tokens()

    def posts(self) -> list[dict]:
        with self.state.lock:
            publishes = list(self.state.publishes.values())
        return [p.summary() for p in publishes]


def main() -> None:
    parser = cli(
        "TikTok", 8798, "JSON with the refresh_token, client_key and client_secret it accepts"
    )
    parser.add_argument(
        "--audited", action="store_true", help="act as an audited client (any privacy level)"
    )
    args = parser.parse_args()
    fake = FakeTikTok.from_token_file(args.token_file, args.port, args.folder, audited=args.audited)
    serve(fake, "TikTok")


if __name__ == "__main__":
    main()
