"""A loopback stand-in for Instagram Reels publishing through the Instagram API with
Facebook Login for Business (the Graph API's resumable upload) and for the Facebook
Login that grants it, speaking their protocols. NOT Instagram, NOT Facebook.

Like fake_youtube, it exists for the tests and for sample mode, where a new user sees a
Reel "published" on a page that says plainly it is this fake. One server answers the
Meta hosts' paths on its root: www.facebook.com (the Login dialog), graph.facebook.com
(a version prefix such as /v23.0/ is optional and any vNN.N is accepted) and
rupload.facebook.com.

  GET  /{ver}/dialog/oauth            client_id, redirect_uri, state, response_type=code,
                                      scope: consent "allowed at once": 302 to the
                                      redirect_uri with code and state (and "#_=_")
  GET  /{ver}/oauth/access_token      client_id, redirect_uri, client_secret, code ->
                                      a short-lived user token {"access_token",
                                      "token_type": "bearer", "expires_in"}; or
                                      grant_type=fb_exchange_token, client_id,
                                      client_secret, fb_exchange_token -> a long-lived one
  GET  /me/accounts?fields=id,name,instagram_business_account{id,username}
                                      the person's Pages and their Instagram accounts
  GET  /me/permissions                {"data": [{"permission", "status": "granted"}]}
  POST /{ig-user-id}/media            media_type=REELS&upload_type=resumable&caption=... ->
                                      {"id": C, "uri": "<root>ig-api-upload/{ver}/C"}
  POST /ig-api-upload/{ver}/C         headers "Authorization: OAuth <token>", "offset: N",
                                      "file_size: TOTAL"; body: the bytes from offset N
  GET  /C?fields=status_code,status,video_status
  POST /{ig-user-id}/media_publish    creation_id=C -> {"id": MEDIA}
  GET  /{ig-user-id}/content_publishing_limit?fields=quota_usage,config
  GET  /MEDIA?fields=id,media_type,media_product_type,permalink,caption,timestamp
  GET  /{ig-user-id}/media            the account's published media, newest first
  GET  /reel/<code>/                  the permalink: a page labelled as this fake

(C: a container's id; MEDIA: a published media's id)

and, to steer it: GET /_fake/media, /_fake/containers, /_fake/log; POST /_fake/faults
(a Fault as JSON), /_fake/faults/clear, /_fake/config {setting: value}, /_fake/pages
(the person's Pages, as /me/accounts lists them).

The app: ``app_id`` and ``app_secret`` (the dialog and both grants check them). Choice:
built without an app id (a sample token file that names none), it takes any client_id,
and then the secret SAMPLE_APP_SECRET unless the file names one. A code works once, for
the client_id and redirect_uri it was given with, for ``code_lifetime`` seconds. An
fb_exchange_token grant gives a new long-lived token (``token_lifetime``, 60 days) for
any unexpired user token; the old one keeps working until its own expiry (Meta does not
say it is revoked). Graph calls take the token as an ``access_token`` query/form/JSON
parameter or as "Authorization: Bearer <token>" (both in Meta's examples); the upload
host wants "Authorization: OAuth <token>". Graph errors have Meta's shape ({"error":
{"message", "type": "OAuthException", "code", "error_subcode", "is_transient",
"fbtrace_id"}}), the upload host's its own ({"debug_info": {"retriable", "type",
"message"}}). No log entry holds a token, code or secret.

Sources (developers.facebook.com/docs/): facebook-login/guides/advanced/manual-flow,
facebook-login/guides/access-tokens/get-long-lived,
instagram-platform/instagram-api-with-facebook-login/get-started,
instagram-platform/instagram-graph-api/reference/page, graph-api/reference/user/accounts
and user/permissions, instagram-platform/content-publishing[/resumable-uploads],
instagram-platform/instagram-graph-api/reference/ig-user/media, .../ig-container,
.../ig-user/content_publishing_limit, .../error-codes; graph-api/guides/error-handling.
Where they leave a detail open the choice is marked "Choice" below, and shapes taken
from third-party code or reports rather than Meta's pages are marked "unverified".
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
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit

from wagglebot_stack import fake_http
from wagglebot_stack.fake_http import FakeHandler, LoopbackFake, LoopbackState, cli, serve

GRAPH_VERSION = "v23.0"  # the version put in an upload uri when the request named none
_VERSION = re.compile(r"v\d+\.\d+")
CONTAINER_TTL_S = 86_400  # "Containers expire after 24 hours" (IG User Media reference)
CAPTION_CHARS, CAPTION_HASHTAGS, CAPTION_MENTIONS = 2200, 30, 20  # IG User Media reference
# Choice: every occurrence counts (Meta does not say whether repeats count once).
_HASHTAG = re.compile(r"(?<![\w&#])#\w+")
_MENTION = re.compile(r"(?<![\w@.])@[\w.]+")
FAULT_KINDS = frozenset(
    {
        "consent",
        "code",
        "exchange",
        "accounts",
        "container_create",
        "upload",
        "container",
        "publish",
        "limit",
        "media",
    }
)
USERNAME = "wagglebot.loopback"  # the sample Instagram account's username
PAGE_NAME = "WaggleBot Loopback Page"
SAMPLE_APP_SECRET = "wagglebot-sample-app-secret"  # noqa: S105 - good only with this fake
# Permissions the dialog knows (the Instagram API with Facebook Login's, and Login's own).
KNOWN_SCOPES = frozenset(
    {
        "instagram_basic",
        "instagram_content_publish",
        "instagram_manage_comments",
        "instagram_manage_insights",
        "pages_show_list",
        "pages_read_engagement",
        "business_management",
        "ads_management",
        "ads_read",
        "public_profile",
        "email",
    }
)
PUBLISH_SCOPES = ("instagram_basic", "instagram_content_publish", "pages_show_list",
                  "pages_read_engagement")  # fmt: skip
_FIELD = re.compile(r"\s*(\w+)\s*(?:\{([^{}]*)\})?\s*(?:,|$)")
_PUBLISH_LIMIT = (
    "You reached maximum number of posts that is allowed to be published by Content "
    "Publishing API."
)  # code 9 / subcode 2207042, the error-codes table's words
_NOT_READY = "The media is not ready for publishing, please wait for a moment"
_UNSUPPORTED = (
    "Unsupported {verb} request. Object with ID '{node}' does not exist, cannot be loaded "
    "due to missing permissions, or does not support this operation. Please read the Graph "
    "API documentation at https://developers.facebook.com/docs/graph-api"
)
# Named reasons -> (HTTP status, code, subcode, message, is_transient). Codes from the
# Graph error-handling guide (4, 17, 32 throttling; 190 token; 463 expired) and the
# Instagram error-codes table (9/2207042, 4/2207051, both HTTP 400 there). Choice: the
# plain throttling codes answer 403, as Graph was seen to (python-social-auth/social-core
# issue 859); 190 answers 400 (a third party saw graph.instagram.com answer 401: a
# fault's ``status`` can say so).
REASONS: dict[str, tuple[int, int, int | None, str, bool]] = {
    "expired": (400, 190, 463, "", False),  # message built from the token's dates
    "invalid_token": (
        400,
        190,
        None,
        "Invalid OAuth access token - Cannot parse access token",
        False,
    ),
    "rate_limit": (403, 4, None, "Application request limit reached", True),
    "user_rate_limit": (403, 17, None, "User request limit reached", True),
    "page_rate_limit": (403, 32, None, "Page request limit reached", True),
    "publish_limit": (400, 9, 2207042, _PUBLISH_LIMIT, False),
    "spam": (
        400,
        4,
        2207051,
        "We restrict certain activity to protect our community. "
        "Tell us if you think we made a mistake.",
        False,
    ),
    # 9007/2207027 for publishing too early: the code is third-party-observed (unverified).
    "not_ready": (400, 9007, 2207027, "Media ID is not available", False),
    "server": (
        500,
        2,
        None,
        "An unexpected error has occurred. Please retry your request later.",
        True,
    ),
    # The token endpoint's refusals. Unverified: Meta's pages give none of these; the
    # codes and words are what developers quote from Graph in SDKs' issue trackers.
    "bad_app": (400, 101, None, "Error validating application. Invalid application ID.", False),
    "bad_secret": (400, 1, None, "Error validating client secret.", False),
    "code_used": (400, 100, 36009, "This authorization code has been used.", False),
    "redirect_mismatch": (
        400,
        100,
        36008,
        "Error validating verification code. Please make sure your redirect_uri is "
        "identical to the one you used in the OAuth dialog request",
        False,
    ),
}
# A container's processing failure, by subcode -> (code, message). The error-codes table
# gives the subcodes, codes and words; 352 for 2207026 (format) is third-party-observed.
FAILURES: dict[int, tuple[int, str]] = {
    2207026: (352, "Sorry, the video file you selected is in a format that we don't support."),
    2207053: (-1, "unknown upload error"),
    2207032: (-1, "Create media fail, please try to re-create media"),
    2207001: (-1, "Instagram server error. Try again."),
    2207003: (-2, "It takes too long to download the media."),
    2207057: (
        1,
        "Thumbnail offset must be greater than or equal to 0 and less than video duration",
    ),
}
_EXPIRED_CONTAINER = (
    -2,
    2207020,
    "The media you are trying to access has expired. Please try to upload again.",
)
# Unverified: the human text in a container's ``status`` (the reference says only that on
# ERROR it holds the error subcode); these follow what third-party code reads.
STATUS_TEXT = {
    "IN_PROGRESS": "In Progress: Media is still being processed.",
    "FINISHED": "Finished: Media has been uploaded and it is ready to be published.",
    "PUBLISHED": "Published: Media has been successfully published.",
    "EXPIRED": "Expired: Media was not published within 24 hours.",
}


@dataclass
class Fault(fake_http.Fault):
    """What to do to the ``nth`` request of a kind (every one from then on, with ``every``).

    Kinds: "consent" (the Login dialog), "code" (a code exchanged at oauth/access_token),
    "exchange" (fb_exchange_token), "accounts" (/me/accounts), "container_create",
    "upload", "container" (a container read), "publish", "limit"
    (content_publishing_limit), "media" (a media read). ``reason``: one of REASONS (e.g.
    "invalid_token", "bad_secret" or "bad_app" on "exchange": the exchange is refused),
    on "consent" "denied" (the person cancels: the redirect carries Meta's error), or on
    "container" "ERROR" (with ``subcode``, default 2207026) or "EXPIRED", which change
    the container for good. ``status``/``code``/``subcode``/``message`` answer a Graph
    error of your own (or, on "upload", the upload host's debug_info failure). A
    code-190/463 answer ("expired", on any kind but the token endpoint's) leaves the
    tokens in use expired until an exchange. ``drop``: close the connection
    without an answer: an upload first reads ``drop_after`` bytes (default half the body)
    and keeps them; a publish first publishes (the reply is lost).
    """

    kinds: ClassVar[frozenset[str]] = FAULT_KINDS

    code: int | None = None
    subcode: int | None = None
    message: str | None = None
    drop_after: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.reason and self.reason not in {*REASONS, "ERROR", "EXPIRED", "denied"}:
            raise ValueError(f"unknown fault reason {self.reason!r}")

    @property
    def answers(self) -> bool:
        return bool(self.status or self.code is not None or self.reason)


@dataclass
class Settings:
    quota_total: int = 100  # publishes per rolling window: 100 (content publishing guide)
    quota_duration: int = 86_400
    container_limit: int = 400  # containers per rolling 24 h (IG User Media reference)
    processing_polls: int = 1  # status polls answered IN_PROGRESS after the last byte
    token_lifetime: int = 5_184_000  # 60 days, a long-lived token's life
    # Choice: the manual flow says only that the code's token is short-lived ("an hour or
    # two"); a code's life is unverified (developers report about 10 minutes).
    short_token_lifetime: int = 3_600
    code_lifetime: int = 600


@dataclass
class Token:
    issued: float  # fake time
    generation: int  # 0: the one the fake was built with; n: the n-th handed out after
    scopes: tuple[str, ...] = PUBLISH_SCOPES
    lifetime: int | None = None  # seconds; None: a long-lived token (token_lifetime)
    stale: bool = False  # an "expired" answer was given for it: expired until exchanged


@dataclass
class Consent:
    """A code the dialog handed out, and what it was asked with."""

    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    issued: float
    used: bool = False


@dataclass
class Container:
    id: str
    created: float
    version: str
    params: dict[str, str]
    path: Path
    total: int | None = None  # file_size, from the first upload request
    received: int = 0
    sha256: str = ""
    status_code: str = "IN_PROGRESS"
    error_subcode: int | None = None
    polls: int = 0
    media_id: str | None = None
    digest: Any = field(default_factory=hashlib.sha256, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def complete(self) -> bool:
        return self.total is not None and self.received == self.total

    def view(self) -> dict:
        return {
            "id": self.id,
            "status_code": self.status_code,
            "error_subcode": self.error_subcode,
            "caption": self.params.get("caption", ""),
            "media_type": self.params.get("media_type", ""),
            "share_to_feed": self.params.get("share_to_feed"),
            "thumb_offset": self.params.get("thumb_offset"),
            "file_size": self.total,
            "received": self.received,
            "sha256": self.sha256,
            "file": str(self.path),
            "media_id": self.media_id,
            "created": _iso(self.created),
        }


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _meta_time(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%A, %d-%b-%y %H:%M:%S UTC")


def _graph_id() -> str:
    return "1789" + "".join(str(secrets.randbelow(10)) for _ in range(13))


def _new_token() -> str:
    return "EAAFAKE" + secrets.token_urlsafe(36).replace("-", "A").replace("_", "B")


def _field_list(text: str) -> list[tuple[str, list[str]]] | None:
    """Graph's ``fields`` with nested ones: "id,a{b,c}" -> [("id", []), ("a", ["b", "c"])];
    None when it does not parse."""
    found: list[tuple[str, list[str]]] = []
    pos = 0
    while pos < len(text):
        match = _FIELD.match(text, pos)
        if not match or match.end() == pos:
            return None
        inner = [name.strip() for name in (match.group(2) or "").split(",") if name.strip()]
        found.append((match.group(1), inner))
        pos = match.end()
    return found


def _page_fields(page: dict, asked: list[tuple[str, list[str]]]) -> dict:
    """A Page as Graph answers it: the fields asked for that it has (a Page with no linked
    Instagram account has no instagram_business_account at all), and always its id."""
    answer: dict[str, object] = {}
    for name, inner in asked:
        value = page.get(name)
        if isinstance(value, dict):
            value = {k: value[k] for k in ["id", *inner] if k in value}
        if value is not None:
            answer[name] = value
    answer["id"] = page["id"]
    return answer


@dataclass
class FakeState(LoopbackState[Fault]):
    fault_type = Fault

    folder: Path
    ig_user_id: str
    app_id: str | None = None  # None: any client_id (a sample token file naming none)
    app_secret: str = SAMPLE_APP_SECRET
    pages: list[dict] = field(default_factory=list)  # what /me/accounts lists
    settings: Settings = field(default_factory=Settings)
    tokens: dict[str, Token] = field(default_factory=dict)
    grants: dict[str, Consent] = field(default_factory=dict)  # the dialog's codes
    containers: dict[str, Container] = field(default_factory=dict)
    media: dict[str, dict] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)  # permalink code -> media id
    created_at: list[float] = field(default_factory=list)  # container creations
    published_at: list[float] = field(default_factory=list)
    clock: Callable[[], float] = time.time  # tests may replace it, or configure(advance=)
    offset: float = 0.0

    def now(self) -> float:
        return self.clock() + self.offset

    def issue(
        self,
        value: str | None = None,
        age: float = 0.0,
        scopes: tuple[str, ...] = PUBLISH_SCOPES,
        lifetime: int | None = None,
    ) -> str:
        value = value or _new_token()
        with self.lock:
            generation = len(self.tokens)
            self.tokens[value] = Token(self.now() - age, generation, scopes, lifetime)
        return value

    def lifetime(self, token: Token) -> int:
        return token.lifetime or self.settings.token_lifetime

    def token_problem(self, value: str) -> tuple[Token | None, tuple[int, int | None, str] | None]:
        """The token, and what is wrong with it as (code, subcode, message), if anything."""
        with self.lock:
            token = self.tokens.get(value)
            lifetime = self.lifetime(token) if token else 0
        if token is None:
            return None, (190, None, REASONS["invalid_token"][3])
        now = self.now()
        ends = token.issued + lifetime
        if token.stale or now >= ends:
            when = min(ends, now - 1) if token.stale else ends
            return token, (190, 463, self.expired_message(when))
        return token, None

    def expired_message(self, when: float) -> str:
        return (
            f"Error validating access token: Session has expired on {_meta_time(when)}. "
            f"The current time is {_meta_time(self.now())}."
        )

    def expire_tokens(self) -> None:
        with self.lock:
            for token in self.tokens.values():
                token.stale = True

    def window(self, moments: list[float], duration: int) -> int:
        since = self.now() - duration
        return sum(1 for moment in moments if moment > since)

    def age_container(self, container: Container) -> None:
        """Unpublished containers expire 24 h after they were made (call under its lock)."""
        old = self.now() - container.created >= CONTAINER_TTL_S
        if old and container.status_code in {"IN_PROGRESS", "FINISHED"}:
            container.status_code = "EXPIRED"

    def configure(self, **options: Any) -> dict:
        known = {f.name for f in fields(Settings)}
        for name in options:
            if name not in known | {"token_age", "advance"}:
                raise ValueError(f"unknown setting {name!r}")
        with self.lock:
            self.offset += float(options.get("advance", 0))
            for name in known & options.keys():
                setattr(self.settings, name, int(options[name]))
            if "token_age" in options:  # how old every token handed out so far is, now
                for token in self.tokens.values():
                    token.issued = self.now() - float(options["token_age"])
            return asdict(self.settings)

    def set_pages(self, pages: Any) -> list[dict]:
        """The person's Pages, each {"id", "name"} and, when an Instagram professional
        account is linked, "instagram_business_account": {"id", "username"}."""
        if not isinstance(pages, list) or not all(
            isinstance(page, dict) and page.get("id") for page in pages
        ):
            raise ValueError("pages: a list of {id, name, instagram_business_account}")
        with self.lock:
            self.pages = [dict(page) for page in pages]
            return [dict(page) for page in self.pages]


class _Handler(FakeHandler[FakeState]):
    server_version = "FakeInstagram/1.0 (WaggleBot loopback stand-in)"

    # --- plumbing ---------------------------------------------------------------------

    def _drain(self, count: int) -> None:
        """Read and drop a refused upload's body, in pieces (it may be large)."""
        while count > 0:
            got = self.rfile.read(min(count, 1 << 16))
            if not got:
                break
            count -= len(got)

    def _log_context(self) -> dict[str, object]:
        return {"method": self.command, "path": urlsplit(self.path).path}  # never the query

    # --- Meta's answers ---------------------------------------------------------------

    def _graph_error(
        self,
        kind: str,
        http: int,
        code: int,
        subcode: int | None,
        message: str,
        transient: bool = False,
        **extra: object,
    ) -> None:
        error: dict[str, object] = {"message": message, "type": "OAuthException", "code": code}
        if subcode is not None:
            error["error_subcode"] = subcode
            error["error_user_msg"] = message
        error["is_transient"] = transient
        error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)
        self._record(kind, http, code=code, subcode=subcode, **extra)  # before the answer
        self._json(http, {"error": error})

    def _reason(self, kind: str, reason: str, status: int | None = None, **extra: object) -> None:
        http, code, subcode, message, transient = REASONS[reason]
        if reason == "expired":
            message = self.state.expired_message(self.state.now() - 1)
        self._graph_error(kind, status or http, code, subcode, message, transient, **extra)

    def _bad_param(self, kind: str, message: str, **extra: object) -> None:
        self._graph_error(kind, 400, 100, None, f"(#100) {message}", **extra)

    def _upload_error(
        self, status: int, kind: str, message: str, retriable: bool = False, **extra: object
    ) -> None:
        """The upload host's failure shape (resumable-uploads guide)."""
        self._record("upload", status, error=kind, **extra)  # logged before it is answered
        self._json(
            status, {"debug_info": {"retriable": retriable, "type": kind, "message": message}}
        )

    def _answer_fault(self, fault: Fault | None, kind: str, **extra: object) -> bool:
        """Delay, then answer a Graph error from the fault if it says one; True if it did.
        An expired-token answer leaves the tokens expired until a refresh."""
        if fault is None:
            return False
        if fault.delay:
            time.sleep(fault.delay)
        if fault.drop and kind not in {"upload", "publish"}:
            self._hang_up(kind, fault=True, **extra)
            return True
        if not fault.answers or fault.reason in {"ERROR", "EXPIRED"}:
            return False
        if fault.reason in REASONS and fault.code is None:
            http, code, subcode, message, transient = REASONS[fault.reason]
        else:
            http, code, subcode, message, transient = 400, fault.code or 1, None, "", False
        http = fault.status or http
        subcode = fault.subcode if fault.subcode is not None else subcode
        if code == 190 and subcode == 463:
            if kind not in {"code", "exchange"}:  # a refused grant expires nothing
                self.state.expire_tokens()
            message = self.state.expired_message(self.state.now() - 1)
        message = fault.message or message or "An unknown error occurred"
        self._graph_error(kind, http, code, subcode, message, transient, fault=True, **extra)
        return True

    def _params(self, body: bytes = b"") -> dict[str, str]:
        """The query's parameters, then the body's (form or JSON), the last value of each."""
        url = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        if not body:
            return params
        if "json" in self.headers.get("Content-Type", ""):
            data = json.loads(body or b"{}")
            for key, value in data.items():
                if isinstance(value, bool):
                    params[key] = "true" if value else "false"
                elif isinstance(value, (dict, list)):
                    params[key] = json.dumps(value)
                else:
                    params[key] = str(value)
        else:
            text = body.decode("utf-8", "replace")
            params.update({k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()})
        return params

    def _graph_auth(self, kind: str, params: dict[str, str]) -> Token | None:
        """The Graph call's token (access_token parameter, or Authorization: Bearer), or
        None after answering Meta's error for a missing, unknown or expired one."""
        value = params.get("access_token", "")
        scheme, _, rest = self.headers.get("Authorization", "").partition(" ")
        if not value and scheme:
            # Choice: the Graph hosts take "Bearer" (Meta's examples); any other scheme
            # (e.g. OAuth, the upload host's) is a token that cannot be parsed.
            value = rest.strip() if scheme.lower() == "bearer" else "?"
        if not value:
            self._graph_error(
                kind, 400, 104, None, "An access token is required to request this resource."
            )
            return None
        token, problem = self.state.token_problem(value)
        if problem:
            code, subcode, message = problem
            self._graph_error(kind, 400, code, subcode, message)
            return None
        return token

    def _fields(
        self, params: dict[str, str], default: list[str], known: set[str], kind: str, node: str
    ) -> list[str] | None:
        asked = [f.strip() for f in params.get("fields", "").split(",") if f.strip()]
        for name in asked:
            if name not in known:  # Choice: node type named after the reference's title
                self._bad_param(
                    kind, f"Tried accessing nonexisting field ({name}) on node type ({node})"
                )
                return None
        return asked or default

    # --- routing ----------------------------------------------------------------------

    def _route(self) -> tuple[str, list[str]]:
        """The Graph version (GRAPH_VERSION if none) and the path's other segments."""
        parts = [p for p in urlsplit(self.path).path.split("/") if p]
        if parts[:1] == ["ig-api-upload"]:
            rest = parts[1:]
            if rest and _VERSION.fullmatch(rest[0]):
                return rest[0], ["ig-api-upload", *rest[1:]]
            return GRAPH_VERSION, parts
        if parts and _VERSION.fullmatch(parts[0]):
            return parts[0], parts[1:]
        return GRAPH_VERSION, parts

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        _, parts = self._route()
        if url.path in {"/", ""}:
            return self._home()
        if url.path.startswith("/_fake/"):
            return self._steer_or_404(url.path)
        if len(parts) == 2 and parts[0] == "reel":
            return self._reel(parts[1])
        params = self._params()
        if parts == ["dialog", "oauth"]:
            return self._dialog(params)
        if parts == ["oauth", "access_token"]:
            return self._grant(params)
        if parts == ["me", "accounts"]:
            return self._accounts(params)
        if parts == ["me", "permissions"]:
            return self._permissions(params)
        if len(parts) == 1:
            return self._node(parts[0], params)
        if len(parts) == 2 and parts[1] == "content_publishing_limit":
            return self._limit(parts[0], params)
        if len(parts) == 2 and parts[1] == "media":
            return self._media_list(parts[0], params)
        self._unknown("get", url.path)

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        version, parts = self._route()
        if parts[:1] == ["ig-api-upload"] and len(parts) == 2:
            return self._upload(version, parts[1])
        body = self._body()
        if url.path.startswith("/_fake/"):
            return self._steer_or_404(url.path, body)
        params = self._params(body)
        if len(parts) == 2 and parts[1] == "media":
            return self._create(version, parts[0], params)
        if len(parts) == 2 and parts[1] == "media_publish":
            return self._publish(parts[0], params)
        self._unknown("post", url.path)

    def _unknown(self, verb: str, path: str) -> None:
        if self.command == "GET":
            self._body()
        self._graph_error("unknown", 400, 100, 33, _UNSUPPORTED.format(verb=verb, node=path))

    def _is_user(self, node: str) -> bool:
        return node in {self.state.ig_user_id, "me"}

    # --- steering ---------------------------------------------------------------------

    def _steer_or_404(self, path: str, body: bytes = b"") -> None:
        if not self._steering(path, body):
            self._json(404, {"error": "no such steering endpoint"})

    def _view(self, path: str) -> object | None:
        with self.state.lock:
            if path == "/_fake/media":
                return list(self.state.media.values())
            if path == "/_fake/containers":
                return [c.view() for c in self.state.containers.values()]
        return None

    def _steer(self, path: str, data: Any) -> object | None:
        if path == "/_fake/pages":
            return self.state.set_pages(data)
        return self.state.configure(**data) if path == "/_fake/config" else None

    # --- Facebook Login ---------------------------------------------------------------

    def _dialog(self, params: dict[str, str]) -> None:
        """GET /dialog/oauth: a person who allows at once. A request Meta would refuse gets
        an error page and no redirect (Meta's dialog shows one, e.g. "URL blocked")."""
        kind = "consent"
        fault = self.state.fault_for(kind)
        if fault and fault.reason == "denied":  # the manual flow's "user_denied" redirect
            self._record(kind, 302, fault=True, error="access_denied")
            return self._back(params.get("redirect_uri", ""), {
                "error": "access_denied", "error_code": "200",
                "error_description": "Permissions error", "error_reason": "user_denied",
                "state": params.get("state", ""),
            })  # fmt: skip
        if fault and fault.drop:
            return self._hang_up(kind, fault=True)
        if fault and fault.answers:
            return self._consent_page(fault.status or 500, "Something went wrong", fault=True)
        if problem := self._dialog_problem(params):
            return self._consent_page(400, problem)
        scopes = tuple(dict.fromkeys(s.strip() for s in params.get("scope", "").split(",")))
        code = "AQ" + secrets.token_urlsafe(48)
        with self.state.lock:
            self.state.grants[code] = Consent(
                params["client_id"], params["redirect_uri"], tuple(s for s in scopes if s),
                self.state.now(),
            )  # fmt: skip
        self._record(kind, 302, scopes=",".join(s for s in scopes if s))
        self._back(params["redirect_uri"], {"code": code, "state": params.get("state", "")})

    def _dialog_problem(self, params: dict[str, str]) -> str | None:
        client_id = params.get("client_id", "")
        if not client_id or (self.state.app_id and client_id != self.state.app_id):
            return "Invalid App ID: the provided app ID does not look like a valid app ID."
        where = urlsplit(params.get("redirect_uri", ""))
        if where.scheme not in {"http", "https"} or not where.hostname:
            return "URL blocked: the redirect_uri is missing or not a web address."
        if params.get("response_type", "code") != "code":
            # Choice: Meta also offers token and code%20token; a loopback fake, only code.
            return "WaggleBot's loopback Facebook answers only response_type=code."
        asked = {s.strip() for s in params.get("scope", "").split(",") if s.strip()}
        if unknown := sorted(asked - KNOWN_SCOPES):
            return f"Invalid Scopes: {', '.join(unknown)}."
        return None

    def _back(self, redirect_uri: str, answer: dict[str, str]) -> None:
        # Unverified: the "#_=_" Meta is seen to append (browsers keep it to themselves).
        joint = "&" if urlsplit(redirect_uri).query else "?"
        self._send(302, b"", {"Location": f"{redirect_uri}{joint}{urlencode(answer)}#_=_"})

    def _consent_page(self, status: int, problem: str, **extra: object) -> None:
        self._record("consent", status, error=problem, **extra)
        self._html(status, (
            "<!doctype html><meta charset=utf-8><title>Fake Facebook Login (loopback)</title>"
            "<p><b>This is WaggleBot's loopback stand-in for Facebook Login, not Facebook."
            f"</b></p><h1>Sorry, something went wrong</h1><p>{html.escape(problem)}</p>"
        ))  # fmt: skip

    def _grant(self, params: dict[str, str]) -> None:
        """GET /oauth/access_token: a code for a short-lived token (manual flow), or an
        fb_exchange_token grant for a long-lived one (long-lived tokens guide)."""
        grant = params.get("grant_type")
        kind = "exchange" if grant == "fb_exchange_token" else "code"
        if self._answer_fault(self.state.fault_for(kind), kind):
            return
        if grant not in {None, "fb_exchange_token"}:
            return self._bad_param(kind, f"Unsupported grant_type {grant!r}")
        if self._client_refused(kind, params):
            return
        if kind == "code":
            return self._code_grant(params)
        self._exchange(params)

    def _client_refused(self, kind: str, params: dict[str, str]) -> bool:
        """The app's id and secret checked; True when a refusal was answered."""
        client_id = params.get("client_id", "")
        if not client_id:  # unverified: what developers quote
            self._graph_error(kind, 400, 101, None, "Missing client_id parameter.")
            return True
        if self.state.app_id and client_id != self.state.app_id:
            self._reason(kind, "bad_app")
            return True
        given = params.get("client_secret", "").encode()
        if not secrets.compare_digest(given, self.state.app_secret.encode()):
            self._reason(kind, "bad_secret")
            return True
        return False

    def _code_grant(self, params: dict[str, str]) -> None:
        kind = "code"
        with self.state.lock:
            consent = self.state.grants.get(params.get("code", ""))
            refusal = self._code_refusal(consent, params)
            if consent and not refusal:
                consent.used = True  # Choice: a failed try leaves the code usable
            lifetime = self.state.settings.short_token_lifetime
        if refusal in REASONS:
            return self._reason(kind, refusal)
        if refusal or consent is None:
            return self._bad_param(kind, refusal or "")
        token = self.state.issue(scopes=consent.scopes, lifetime=lifetime)
        self._answer_token(kind, token, lifetime)

    def _code_refusal(self, consent: Consent | None, params: dict[str, str]) -> str | None:
        """A REASONS key or a message for a code Meta would not take, or None (call under
        the state's lock)."""
        if not params.get("redirect_uri"):
            return "Missing redirect_uri parameter."
        if consent is None:  # unverified words, as developers quote them
            return "Invalid verification code format."
        if consent.used:
            return "code_used"
        if self.state.now() - consent.issued >= self.state.settings.code_lifetime:
            return "This authorization code has expired."
        asked = (params["client_id"], params["redirect_uri"])
        if asked != (consent.client_id, consent.redirect_uri):
            return "redirect_mismatch"
        return None

    def _exchange(self, params: dict[str, str]) -> None:
        """fb_exchange_token: a new long-lived token for an unexpired user token. The guide:
        "You can not use an expired token to request a long-lived token"."""
        kind = "exchange"
        value = params.get("fb_exchange_token", "")
        if not value:  # unverified: the words developers quote, with code 1
            return self._graph_error(
                kind, 400, 1, None, "fb_exchange_token parameter not specified"
            )
        token, problem = self.state.token_problem(value)
        if problem and not (token and token.stale and problem[1] == 463 and self._alive(token)):
            # A token a fault declared expired can still be exchanged (the fault is Meta's
            # answer on a call; the client's recovery is what it tests); one truly past its
            # lifetime cannot.
            code, subcode, message = problem
            return self._graph_error(kind, 400, code, subcode, message)
        assert token is not None
        with self.state.lock:
            lifetime = self.state.settings.token_lifetime
        self._answer_token(kind, self.state.issue(scopes=token.scopes), lifetime)

    def _alive(self, token: Token) -> bool:
        return self.state.now() - token.issued < self.state.lifetime(token)

    def _answer_token(self, kind: str, token: str, lifetime: int) -> None:
        with self.state.lock:
            generation = self.state.tokens[token].generation
        self._record(kind, 200, token_generation=generation)  # never the token itself
        self._json(200, {"access_token": token, "token_type": "bearer", "expires_in": lifetime})

    def _accounts(self, params: dict[str, str]) -> None:
        """GET /me/accounts: the Pages the person can act on, with the fields asked for
        (nested ones such as instagram_business_account{id,username} too)."""
        kind = "accounts"
        if self._answer_fault(self.state.fault_for(kind), kind):
            return
        if (token := self._graph_auth(kind, params)) is None:
            return
        asked = _field_list(params.get("fields", "")) if params.get("fields") else []
        known = {"id", "name", "instagram_business_account"}
        if asked is None or any(name not in known for name, _ in asked):
            return self._bad_param(kind, f"Tried accessing nonexisting field on node type (Page): "
                                   f"{params.get('fields', '')}")  # fmt: skip
        with self.state.lock:
            pages = [dict(page) for page in self.state.pages]
        data = [_page_fields(page, asked or [("id", []), ("name", [])]) for page in pages]
        self._record(kind, 200, listed=len(data), token_generation=token.generation)
        cursor = secrets.token_urlsafe(12)
        self._json(200, {"data": data, "paging": {"cursors": {"before": cursor, "after": cursor}}})

    def _permissions(self, params: dict[str, str]) -> None:
        """GET /me/permissions: what the person granted (every asked scope, at once)."""
        if (token := self._graph_auth("permissions", params)) is None:
            return
        self._record("permissions", 200, token_generation=token.generation)
        granted = [{"permission": scope, "status": "granted"} for scope in token.scopes]
        self._json(200, {"data": granted})

    # --- containers -------------------------------------------------------------------

    def _create(self, version: str, node: str, params: dict[str, str]) -> None:
        kind = "container_create"
        if self._answer_fault(self.state.fault_for(kind), kind):
            return
        if (token := self._graph_auth(kind, params)) is None:
            return
        if not self._is_user(node):
            return self._graph_error(
                kind, 400, 100, 33, _UNSUPPORTED.format(verb="post", node=node)
            )
        if refusal := self._container_refusal(params):
            return self._bad_param(kind, refusal, token_generation=token.generation)
        with self.state.lock:
            limit = self.state.settings.container_limit
            if self.state.window(self.state.created_at, CONTAINER_TTL_S) >= limit:
                refused = True
            else:
                refused = False
                self.state.created_at.append(self.state.now())
                container_id = _graph_id()
                while container_id in self.state.containers or container_id in self.state.media:
                    container_id = _graph_id()
                path = self.state.folder / f"{container_id}.bin"
                path.write_bytes(b"")
                keep = {k: v for k, v in params.items() if k != "access_token"}
                container = Container(container_id, self.state.now(), version, keep, path)
                self.state.containers[container_id] = container
        if refused:  # Choice: Meta names the limit, not its error; the publishing one's code
            return self._graph_error(
                kind,
                400,
                9,
                None,
                f"(#9) You reached the maximum of {limit} containers created in 24 hours.",
                token_generation=token.generation,
            )
        uri = f"{self.root}ig-api-upload/{version}/{container_id}"
        self._record(kind, 200, container=container_id, token_generation=token.generation)
        self._json(200, {"id": container_id, "uri": uri})

    def _container_refusal(self, params: dict[str, str]) -> str | None:
        media_type = params.get("media_type", "")
        upload_type = params.get("upload_type")
        if media_type not in {"REELS", "VIDEO", "STORIES", "IMAGE", "CAROUSEL"}:
            if not media_type and "image_url" not in params:
                return "The parameter image_url is required."
            return (
                f"Param media_type must be one of {{IMAGE, CAROUSEL, REELS, STORIES, "
                f"VIDEO}}, not {media_type!r}."
            )
        if media_type != "REELS" or upload_type != "resumable":
            if upload_type not in {None, "resumable"}:  # the guide: lowercase "resumable"
                return f"Param upload_type must be 'resumable', not {upload_type!r}."
            if media_type in {"REELS", "VIDEO", "STORIES"} and "video_url" not in params:
                return "The parameter video_url is required (or upload_type=resumable)."
            # Choice: a loopback stand-in fetches nothing from the web.
            return (
                f"WaggleBot's loopback Instagram takes only media_type=REELS with "
                f"upload_type=resumable (got media_type={media_type})."
            )
        caption = params.get("caption", "")
        if len(caption) > CAPTION_CHARS:
            return (
                f"The caption is {len(caption)} characters long: Instagram allows at "
                f"most {CAPTION_CHARS}."
            )
        if (count := len(_HASHTAG.findall(caption))) > CAPTION_HASHTAGS:
            return f"The caption has {count} hashtags: Instagram allows at most {CAPTION_HASHTAGS}."
        if (count := len(_MENTION.findall(caption))) > CAPTION_MENTIONS:
            return (
                f"The caption has {count} @mentions: Instagram allows at most {CAPTION_MENTIONS}."
            )
        if params.get("share_to_feed", "true") not in {"true", "false"}:
            return "Param share_to_feed must be a boolean (true or false)."
        offset = params.get("thumb_offset", "0")
        if not offset.isdigit():  # milliseconds from the start; the reference's default 0
            return f"Param thumb_offset must be a non-negative integer (ms), not {offset!r}."
        return None

    def _upload(self, version: str, container_id: str) -> None:
        """POST /ig-api-upload/{ver}/{id}: the bytes from ``offset`` on. Resuming is
        documented; how to learn the offset is not: this fake keeps what arrived and shows
        it in the container's video_status (what third-party code reads)."""
        length = self._length()
        fault = self.state.fault_for("upload")
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.answers:
            self._drain(length)
            if fault.reason == "expired" or (fault.code, fault.subcode) == (190, 463):
                self.state.expire_tokens()
                message = self.state.expired_message(self.state.now() - 1)
                return self._upload_error(
                    fault.status or 400, "NotAuthorizedError", message, fault=True, subcode=463
                )
            status = fault.status or 400
            message = fault.message or "Request processing failed"
            return self._upload_error(
                status, "ProcessingFailedError", message, retriable=status >= 500, fault=True
            )
        scheme, _, value = self.headers.get("Authorization", "").partition(" ")
        # Unverified: the upload host's answer to a bad token (third-party-observed shape).
        if scheme.lower() != "oauth" or not value.strip():
            self._drain(length)
            return self._upload_error(
                400,
                "NotAuthorizedError",
                "User not authorized to "
                "perform this request: send Authorization: OAuth "
                "<access token>",
                scheme=scheme,
            )
        token, problem = self.state.token_problem(value.strip())
        if problem:
            self._drain(length)
            return self._upload_error(400, "NotAuthorizedError", problem[2], subcode=problem[1])
        assert token is not None
        with self.state.lock:
            container = self.state.containers.get(container_id)
        if container is None:  # Choice: 404, the shape of the upload host's failures
            self._drain(length)
            return self._upload_error(404, "NotFoundError", f"No container {container_id}")
        if self.headers.get("file_url"):
            self._drain(length)
            return self._upload_error(
                400,
                "ProcessingFailedError",
                "file_url is not supported by WaggleBot's loopback Instagram: send the bytes",
            )
        numbers = {}
        for header in ("offset", "file_size"):
            text = (self.headers.get(header) or "").strip()
            if not text.isdigit():  # trypost/trypost#32 quotes this answer for offset
                self._drain(length)
                return self._upload_error(
                    400,
                    "ParameterValidationError",
                    f"HeaderValuePredicate: Header {header} not convertable to unsigned long",
                )
            numbers[header] = int(text)
        self._receive(container, numbers["offset"], numbers["file_size"], length, fault, token)

    def _receive(
        self,
        container: Container,
        offset: int,
        size: int,
        length: int,
        fault: Fault | None,
        token: Token,
    ) -> None:
        extra = {
            "container": container.id,
            "offset": offset,
            "file_size": size,
            "sent": length,
            "token_generation": token.generation,
        }
        with container.lock:
            self.state.age_container(container)
            # Choice, for every refusal below: 400 with retriable false, the upload host's
            # documented failure shape; a wrong offset or size is the client's error, as a
            # 4xx says, and resending the same request cannot succeed.
            refusal = None
            if container.status_code != "IN_PROGRESS" or container.media_id:
                refusal = f"The container is {container.status_code}: it takes no more bytes"
            elif container.total is not None and size != container.total:
                refusal = f"file_size {size} differs from the {container.total} given first"
            elif offset != container.received:
                refusal = (
                    f"offset {offset} does not match the {container.received} bytes received so far"
                )
            elif offset + length > size:
                refusal = f"{length} bytes from offset {offset} run past file_size {size}"
            if refusal:
                self._drain(length)
                return self._upload_error(400, "ProcessingFailedError", refusal, **extra)
            container.total = size
            keep = length
            if fault and fault.drop:
                keep = min(length, length // 2 if fault.drop_after is None else fault.drop_after)
            got = 0
            with container.path.open("r+b") as out:
                out.seek(container.received)
                while got < keep:
                    try:
                        chunk = self.rfile.read(min(keep - got, 1 << 16))
                    except OSError:
                        break
                    if not chunk:
                        break
                    out.write(chunk)
                    container.digest.update(chunk)
                    container.received += len(chunk)
                    got += len(chunk)
            if container.complete:
                container.sha256 = container.digest.hexdigest()
        if fault and fault.drop:
            return self._hang_up("upload", fault=True, kept=got, **extra)
        if got < length:  # the client went away mid-body: what arrived is kept
            return self._hang_up("upload", kept=got, **extra)
        if container.complete:
            self._record("upload", 200, kept=got, **extra)
            return self._json(200, {"success": True, "message": "Upload successful."})
        # Choice: a clean body that stops short of file_size is a chunk, taken as such.
        self._record("upload", 200, kept=got, **extra)
        self._json(
            200,
            {
                "success": True,
                "message": "Chunk received.",
                "bytes_transferred": container.received,
            },
        )

    # --- reads ------------------------------------------------------------------------

    def _node(self, node: str, params: dict[str, str]) -> None:
        with self.state.lock:
            container = self.state.containers.get(node)
            media = self.state.media.get(node)
        if container is not None:
            return self._container_read(container, params)
        if media is not None:
            return self._media_read(media, params)
        kind = "user" if self._is_user(node) else "node"
        if self._graph_auth(kind, params) is None:
            return
        if kind == "node":
            return self._graph_error(kind, 400, 100, 33, _UNSUPPORTED.format(verb="get", node=node))
        wanted = self._fields(params, ["id"], {"id", "user_id", "username"}, kind, "IGUser")
        if wanted is None:
            return
        user = {
            "id": self.state.ig_user_id,
            "user_id": self.state.ig_user_id,
            "username": "wagglebot.loopback",
        }
        self._record(kind, 200)
        self._json(200, {name: user[name] for name in wanted})

    def _container_read(self, container: Container, params: dict[str, str]) -> None:
        kind = "container"
        fault = self.state.fault_for(kind)
        if self._answer_fault(fault, kind, container=container.id):
            return
        if (token := self._graph_auth(kind, params)) is None:
            return
        known = {"id", "status_code", "status", "video_status", "copyright_check_status"}
        wanted = self._fields(params, ["id"], known, kind, "IGContainer")
        if wanted is None:
            return
        with container.lock:
            self.state.age_container(container)
            if fault and fault.reason == "ERROR" and not container.media_id:
                container.status_code = "ERROR"
                container.error_subcode = fault.subcode or 2207026
            elif fault and fault.reason == "EXPIRED" and not container.media_id:
                container.status_code = "EXPIRED"
            polled = "status_code" in wanted or "status" in wanted
            if polled and container.status_code == "IN_PROGRESS" and container.complete:
                if container.polls >= self.state.settings.processing_polls:
                    container.status_code = "FINISHED"
                else:
                    container.polls += 1
            answer = self._container_fields(container, wanted)
        self._record(
            kind,
            200,
            container=container.id,
            status_code=container.status_code,
            token_generation=token.generation,
        )
        self._json(200, answer)

    def _container_fields(self, container: Container, wanted: list[str]) -> dict:
        code = container.status_code
        if code == "ERROR":  # the reference: on ERROR, status holds the error subcode
            status = f"Error: Media upload has failed with error code {container.error_subcode}"
        else:
            status = STATUS_TEXT[code]
        if not container.complete:
            processing = "not_started"
        else:
            processing = {"IN_PROGRESS": "in_progress", "ERROR": "error"}.get(code, "complete")
        values: dict[str, object] = {
            "id": container.id,
            "status_code": code,
            "status": status,
            # Unverified: not in the IG Container reference. This is the Video API's
            # video status shape, which third-party Reels code reads to resume an upload.
            "video_status": {
                "uploading_phase": {
                    "status": "complete" if container.complete else "in_progress",
                    "bytes_transferred": container.received,
                },
                "processing_phase": {"status": processing},
            },
            "copyright_check_status": {
                "status": "completed" if code in {"FINISHED", "PUBLISHED"} else "not_started",
                "matches_found": False,
            },
        }
        answer = {name: values[name] for name in wanted if name != "id"}
        answer["id"] = container.id  # Graph always answers the node's id
        return answer

    def _media_read(self, media: dict, params: dict[str, str]) -> None:
        kind = "media"
        if self._answer_fault(self.state.fault_for(kind), kind, media=media["id"]):
            return
        if (token := self._graph_auth(kind, params)) is None:
            return
        wanted = self._fields(params, ["id"], set(_MEDIA_FIELDS), kind, "IGMedia")
        if wanted is None:
            return
        self._record(kind, 200, media=media["id"], token_generation=token.generation)
        answer = {name: media[name] for name in wanted if name != "id"}
        answer["id"] = media["id"]
        self._json(200, answer)

    def _user_edge(self, kind: str, node: str, params: dict[str, str]) -> bool:
        """The checks before a GET of one of the user's edges (a fault, the token, the
        node); False when one of them answered."""
        if self._answer_fault(self.state.fault_for(kind), kind):
            return False
        if self._graph_auth(kind, params) is None:
            return False
        if not self._is_user(node):
            self._graph_error(kind, 400, 100, 33, _UNSUPPORTED.format(verb="get", node=node))
            return False
        return True

    def _media_list(self, node: str, params: dict[str, str]) -> None:
        kind = "media"
        if not self._user_edge(kind, node, params):
            return
        wanted = self._fields(params, ["id"], set(_MEDIA_FIELDS), kind, "IGMedia")
        if wanted is None:
            return
        with self.state.lock:
            media = list(self.state.media.values())[::-1]
        self._record(kind, 200, listed=len(media))
        self._json(
            200, {"data": [{n: m[n] for n in dict.fromkeys(["id", *wanted])} for m in media]}
        )

    def _limit(self, node: str, params: dict[str, str]) -> None:
        """GET /{ig-user-id}/content_publishing_limit: publishes in the rolling window
        (from ``since``, a unix time, when it is later than the window's start)."""
        kind = "limit"
        if not self._user_edge(kind, node, params):
            return
        wanted = self._fields(
            params, ["quota_usage"], {"quota_usage", "config"}, kind, "ContentPublishingLimit"
        )
        if wanted is None:
            return
        since = params.get("since", "")
        with self.state.lock:
            duration = self.state.settings.quota_duration
            start = self.state.now() - duration
            if since.isdigit():
                start = max(start, float(since))
            usage = sum(1 for moment in self.state.published_at if moment > start)
            values = {
                "quota_usage": usage,
                "config": {
                    "quota_total": self.state.settings.quota_total,
                    "quota_duration": duration,
                },
            }
        self._record(kind, 200, quota_usage=usage)
        self._json(200, {"data": [{name: values[name] for name in wanted}]})

    # --- publishing -------------------------------------------------------------------

    def _publish(self, node: str, params: dict[str, str]) -> None:
        kind = "publish"
        fault = self.state.fault_for(kind)
        if self._answer_fault(fault, kind):
            return
        if (token := self._graph_auth(kind, params)) is None:
            return
        extra = {"token_generation": token.generation}
        if not self._is_user(node):
            return self._graph_error(
                kind, 400, 100, 33, _UNSUPPORTED.format(verb="post", node=node), **extra
            )
        creation_id = params.get("creation_id", "")
        if not creation_id:
            return self._bad_param(kind, "The parameter creation_id is required.", **extra)
        with self.state.lock:
            container = self.state.containers.get(creation_id)
        if container is None:
            return self._graph_error(
                kind,
                400,
                100,
                33,
                _UNSUPPORTED.format(verb="post", node=creation_id),
                container=creation_id,
                **extra,
            )
        extra["container"] = creation_id
        with container.lock:
            self.state.age_container(container)
            if container.media_id:
                # Choice: Meta does not document publishing a container twice; it is refused
                # here and never makes a second media.
                return self._bad_param(
                    kind,
                    f"The container {creation_id} has already been "
                    f"published (media {container.media_id}).",
                    **extra,
                )
            with self.state.lock:
                settings = self.state.settings
                used = self.state.window(self.state.published_at, settings.quota_duration)
            if used >= settings.quota_total:
                return self._reason(kind, "publish_limit", quota_usage=used, **extra)
            if container.status_code == "EXPIRED":
                code, subcode, message = _EXPIRED_CONTAINER
                return self._graph_error(kind, 400, code, subcode, message, **extra)
            if container.status_code == "ERROR":
                subcode = container.error_subcode or 2207053
                code, message = FAILURES.get(subcode, (-1, "unknown upload error"))
                return self._graph_error(kind, 400, code, subcode, message, **extra)
            if container.status_code != "FINISHED":
                http, code, subcode, message, _ = REASONS["not_ready"]
                error = {
                    "message": message,
                    "type": "OAuthException",
                    "code": code,
                    "error_subcode": subcode,
                    "is_transient": False,
                    "error_user_title": "Media not ready",
                    "error_user_msg": _NOT_READY,
                    "fbtrace_id": "A" + secrets.token_urlsafe(16),
                }
                self._record(kind, http, code=code, subcode=subcode, **extra)
                return self._json(http, {"error": error})
            media = self._make_media(container)
        if fault and fault.drop:  # published, but the reply never arrives
            return self._hang_up(kind, fault=True, media=media["id"], **extra)
        self._record(kind, 200, media=media["id"], **extra)
        self._json(200, {"id": media["id"]})

    def _make_media(self, container: Container) -> dict:
        """Publish a FINISHED container (call under its lock)."""
        with self.state.lock:
            media_id = _graph_id()
            while media_id in self.state.media or media_id in self.state.containers:
                media_id = _graph_id()
            code = secrets.token_urlsafe(8)[:11]
            now = self.state.now()
            media = {
                "id": media_id,
                "container": container.id,
                "caption": container.params.get("caption", ""),
                "media_type": "VIDEO",  # a Reel reads back as VIDEO (content publishing guide)
                "media_product_type": "REELS",
                "permalink": f"{self.root}reel/{code}/",
                "shortcode": code,
                "timestamp": _iso(now),
                "share_to_feed": container.params.get("share_to_feed", "true") == "true",
                "thumb_offset": int(container.params.get("thumb_offset", "0")),
                "bytes": container.received,
                "sha256": container.sha256,
                "file": str(container.path),
            }
            self.state.media[media_id] = media
            self.state.codes[code] = media_id
            self.state.published_at.append(now)
            container.media_id = media_id
            container.status_code = "PUBLISHED"
        return media

    # --- pages ------------------------------------------------------------------------

    def _home(self) -> None:
        page = (
            "<!doctype html><meta charset=utf-8><title>Fake Instagram (loopback)</title>"
            "<p><b>This is WaggleBot's loopback stand-in for Instagram, not Instagram.</b> "
            "It speaks the Graph API's Reels publishing so the whole loop can be seen and "
            "tested without an account.</p>"
        )
        self._html(200, page)

    def _reel(self, code: str) -> None:
        with self.state.lock:
            media = self.state.media.get(self.state.codes.get(code, ""))
        if media is None:
            return self._send(404, b"no such reel", kind="text/plain; charset=utf-8")
        caption = html.escape(media["caption"])
        page = (
            "<!doctype html><meta charset=utf-8><title>Fake Instagram Reel (loopback)</title>"
            "<p><b>This is WaggleBot's loopback stand-in for Instagram, not Instagram.</b> "
            "Sample mode published this Reel here so the whole loop can be seen without an "
            "account.</p>"
            f"<p style='white-space: pre-wrap'>{caption}</p>"
            f"<p>media id {html.escape(media['id'])}, {media['bytes']:,} bytes, "
            f"published {html.escape(media['timestamp'])}</p>"
        )
        self._html(200, page)


_MEDIA_FIELDS = (
    "id",
    "caption",
    "media_type",
    "media_product_type",
    "permalink",
    "shortcode",
    "timestamp",
)


class FakeInstagram(LoopbackFake[FakeState]):
    """The fake, on its own thread; ``url`` is its root, e.g. http://127.0.0.1:8797/.

    ``access_token`` is the long-lived user token it starts with (new; ``configure(
    token_age=...)`` says otherwise). ``app_id`` and ``app_secret``: the Meta app the
    dialog and the grants accept (no app id: any). The person has one Page, linked to
    the Instagram account ``ig_user_id`` (``username``); ``set_pages`` says otherwise."""

    def __init__(
        self,
        port: int = 0,
        *,
        ig_user_id: str,
        access_token: str,
        folder: Path | None = None,
        app_id: str | None = None,
        app_secret: str = SAMPLE_APP_SECRET,
        username: str = USERNAME,
    ) -> None:
        def state(folder: Path) -> FakeState:
            linked = {"id": str(ig_user_id), "username": username}
            page = {"id": "1040" + str(ig_user_id)[-11:], "name": PAGE_NAME,
                    "instagram_business_account": linked}  # fmt: skip
            state = FakeState(folder=folder, ig_user_id=str(ig_user_id), app_id=app_id,
                              app_secret=app_secret, pages=[page])  # fmt: skip
            state.issue(access_token)
            return state

        super().__init__(_Handler, state, port=port, folder=folder, prefix="fake-instagram-")

    @property
    def access_token(self) -> str:
        """The newest token handed out (the one it was built with, until a grant)."""
        with self.state.lock:
            return max(self.state.tokens.items(), key=lambda item: item[1].generation)[0]

    def configure(self, **options: Any) -> dict:
        """Settings (quota_total, quota_duration, container_limit, processing_polls,
        token_lifetime, short_token_lifetime, code_lifetime), and: token_age (seconds: how
        old every token handed out so far now is), advance (seconds to move the fake's
        clock on)."""
        return self.state.configure(**options)

    def set_pages(self, pages: list[dict]) -> list[dict]:
        """The person's Pages as /me/accounts lists them: each {"id", "name"} and, for a
        linked Instagram account, "instagram_business_account": {"id", "username"}."""
        return self.state.set_pages(pages)

    def media(self) -> list[dict]:
        with self.state.lock:
            return [dict(m) for m in self.state.media.values()]

    def containers(self) -> list[dict]:
        with self.state.lock:
            return [c.view() for c in self.state.containers.values()]


def from_token_file(path: Path, port: int = 0, folder: Path | None = None) -> FakeInstagram:
    """The fake for a token file as instagram-auth writes it (access_token, ig_user_id,
    and username, app_id, app_secret when there): without an app id it takes any, and
    without a secret SAMPLE_APP_SECRET."""
    sample = json.loads(path.read_text(encoding="utf-8"))
    return FakeInstagram(
        port,
        ig_user_id=str(sample["ig_user_id"]),
        access_token=sample["access_token"],
        folder=folder,
        app_id=str(sample["app_id"]) if sample.get("app_id") else None,
        app_secret=sample.get("app_secret") or SAMPLE_APP_SECRET,
        username=sample.get("username") or USERNAME,
    )


def main() -> None:
    parser = cli(
        "Instagram",
        8797,
        "JSON with the sample account's access_token and ig_user_id (and app_id, app_secret)",
    )
    args = parser.parse_args()
    serve(from_token_file(args.token_file, args.port, args.folder), "Instagram")


if __name__ == "__main__":
    main()
