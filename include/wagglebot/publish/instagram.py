"""Publishing a Short as an Instagram Reel: the Instagram API with Facebook Login for
Business and its resumable upload of a local file.

Which login: the resumable upload (``upload_type=resumable``, then the bytes to
rupload.facebook.com) is documented only for Facebook Login for Business on
graph.facebook.com, so WaggleBot uses that login, not Instagram Login
(graph.instagram.com), which would want a public ``video_url``. ``./wagglebot
instagram-auth`` (``publish.instagram_auth``) gets the long-lived user token and the
Instagram professional account linked to the person's Facebook Page.

The steps (developers.facebook.com/docs/instagram-platform/content-publishing and
.../content-publishing/resumable-uploads):

1. ``GET /{ig-user-id}/content_publishing_limit``: the rolling 24 h allowance; a spent
   one stops the run before anything is made.
2. ``POST /{ig-user-id}/media`` with ``media_type=REELS`` and ``upload_type=resumable``:
   a container and its upload ``uri``. Both go to the journal before any byte is sent.
3. ``POST {uri}`` (the rupload host) with ``Authorization: OAuth <token>``, ``offset``
   and ``file_size``: the bytes from ``offset``. After a dropped connection the
   container's ``video_status.uploading_phase.bytes_transferred`` says where to resume
   (third-party code reads it; Meta's pages do not say how to learn the offset).
4. ``GET /{container}?fields=status_code,status`` until ``FINISHED``; ``ERROR`` or
   ``EXPIRED`` is a refusal with Meta's status text.
5. ``POST /{ig-user-id}/media_publish`` with ``creation_id``: the Reel.

A run that finds a container in the journal asks it first: ``PUBLISHED`` means the Reel
exists (it is found among the account's media by its caption; never published again),
``FINISHED`` is published now, an unfinished upload is resumed, and an ``ERROR`` or
``EXPIRED`` one, which published nothing, makes way for a new container.

The token: a long-lived user token (about 60 days). There is no refresh token; it is
renewed with another ``fb_exchange_token`` grant (``GET /{version}/oauth/access_token``
with the app's id and secret and the stored token: developers.facebook.com/docs/
facebook-login/guides/access-tokens/get-long-lived, which also says an expired token
cannot be exchanged), ``refresh_before_days`` before it expires (or, with no known
expiry, once it is ``refresh_after_days`` old; at most once a day), and once after
Graph answers code 190 (developers.facebook.com/docs/graph-api/guides/error-handling).
The new token and its expiry are written back to the token file; a refused exchange
stops publishing with "run ./wagglebot instagram-auth"."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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

GRAPH = "https://graph.facebook.com/"
# Pinned; Meta's pages name v25.0 as the latest (late 2026), and each version is kept
# about two years.
VERSION = "v23.0"
RETRY_CODES = frozenset({1, 2, 4, 17, 32, 613, 9007})  # transient, throttled, not ready
LIMIT_SUBCODES = frozenset({2207042})  # the day's publishing limit is reached
REFUSED_AUTH = (
    "Instagram publishing is off: the Instagram token was refused; run ./wagglebot instagram-auth"
)
_EPOCH = "1970-01-01T00:00:00+00:00"


def graph_base(graph_url: str, version: str = VERSION) -> str:
    """The versioned Graph root, e.g. https://graph.facebook.com/v23.0/."""
    return graph_url.rstrip("/") + f"/{version}/"


def exchange_token(graph: str, app_id: str, app_secret: str, token: str) -> dict:
    """Meta's answer to an ``fb_exchange_token`` grant at ``{graph}oauth/access_token``
    ({"access_token", "token_type", "expires_in"}): a long-lived user token for a short-
    or long-lived one. Retry on a 5xx or a transient error; CredentialsRefused when Meta
    refuses it (e.g. 190: expired or revoked; 101: no such app; 1: a wrong secret).
    Never a word of the request in a message: its URL carries the secret and the token."""
    params = {"grant_type": "fb_exchange_token", "client_id": app_id,
              "client_secret": app_secret, "fb_exchange_token": token}  # fmt: skip
    try:
        resp = requests.get(graph + "oauth/access_token", params=params, timeout=30)
    except requests.RequestException as exc:  # its words hold the URL, secret and all
        raise Retry(f"the token exchange failed ({type(exc).__name__})") from None
    answer = json_of(resp)
    if resp.status_code == 200 and answer.get("access_token"):
        return answer
    error = answer.get("error") if isinstance(answer.get("error"), dict) else {}
    if resp.status_code >= 500 or error.get("is_transient"):
        raise Retry(f"the token exchange answered {resp.status_code} {said(answer)}")
    raise CredentialsRefused(f"Meta refused the token exchange ({said(answer)})", "exchange")


def expiry(answer: dict, now: datetime) -> str | None:
    """When a token Meta just gave expires (ISO, UTC), from its ``expires_in``, if said."""
    seconds = answer.get("expires_in")
    if isinstance(seconds, int) and seconds > 0:
        return (now + timedelta(seconds=seconds)).isoformat()
    return None


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class InstagramToken:
    """The stored long-lived token, its app and its account (``./wagglebot instagram-auth``)."""

    path: Path
    graph_url: str = GRAPH
    version: str = VERSION
    refresh_before_days: int = 10  # renewed this long before expires_at
    refresh_after_days: int = 50  # with no expires_at: renewed once this old
    # Unless a 190 forces it, at most once a day: should Meta hand back a token whose
    # expiry did not move, each call must not exchange it again.
    renew_gap_hours: int = 24

    def info(self) -> dict:
        return json.loads(self.path.read_text(encoding="utf-8"))

    def bearer(self, fresh: bool = False) -> str:
        """The token; renewed first when it is due, or when ``fresh`` (after a 190)."""
        info = self.info()
        if fresh or self.due(info, datetime.now(UTC)):
            info = self._renew(info)
        return info["access_token"]

    def due(self, info: dict, now: datetime) -> bool:
        obtained = _moment(info.get("obtained_at") or _EPOCH)
        if now - obtained < timedelta(hours=self.renew_gap_hours):
            return False
        if expires := info.get("expires_at"):
            return now >= _moment(expires) - timedelta(days=self.refresh_before_days)
        return now - obtained > timedelta(days=self.refresh_after_days)

    def _renew(self, info: dict) -> dict:
        from wagglebot.publish.credentials import save_token

        if not info.get("app_id") or not info.get("app_secret"):
            raise CredentialsRefused(
                f"{REFUSED_AUTH} (the token file {self.path} holds no app id and secret "
                "to renew the token with)",
                "fb_exchange_token",
            )
        now = datetime.now(UTC)
        graph = graph_base(self.graph_url, self.version)
        try:
            answer = exchange_token(graph, str(info["app_id"]), info["app_secret"],
                                    info["access_token"])  # fmt: skip
        except CredentialsRefused as exc:
            raise CredentialsRefused(f"{REFUSED_AUTH} ({exc})", exc.reason) from None
        # expires_at None (Meta gave no expires_in): the age rule decides the next renewal.
        info = {**info, "access_token": answer["access_token"],
                "obtained_at": now.isoformat(), "expires_at": expiry(answer, now)}  # fmt: skip
        save_token(info, self.path)
        log.info("the Instagram token was renewed (until %s)", info["expires_at"] or "unknown")
        return info


def said(answer: dict) -> str:
    error = answer.get("error") or {}
    if isinstance(error, dict) and error:
        return f"{error.get('code')}/{error.get('error_subcode', '-')}: {error.get('message')}"
    return str(answer)[:200]


class InstagramPublisher:
    platform = "instagram"

    def __init__(
        self,
        token: InstagramToken,
        *,
        graph_url: str = GRAPH,
        upload_url: str | None = None,  # where container uris point (the loopback fake)
        version: str = VERSION,
        retries: int = 6,
        backoff_s: float = 1.0,
        poll_s: float = 10.0,
        poll_tries: int = 60,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.token = token
        self.graph = graph_base(graph_url, version)
        self.upload_url = upload_url
        self.backoff = Backoff(retries, backoff_s, sleep)
        self.poll_s, self.poll_tries, self.sleep = poll_s, poll_tries, sleep
        self.http = requests.Session()

    # --- the one method of a Publisher ---------------------------------------------------

    def upload(self, short: ShortUpload, journal: UploadJournal) -> Published:
        size = short.video.stat().st_size
        caption = short.metadata.caption()
        what = f"post {short.post_id}"
        task = json.loads(journal.session_uri) if journal.session_uri else None
        if task:
            state = self._container(task["id"])
            if state.get("status_code") == "PUBLISHED":
                log.info("%s: Instagram had published container %s already", what, task["id"])
                return self._found(caption, task["id"])
            if state.get("status_code") in ("ERROR", "EXPIRED"):
                log.warning("%s: container %s is %s, published nothing; making a new one",
                            what, task["id"], state["status_code"])  # fmt: skip
                journal.gone()
                task = None
        if task is None:
            self._check_limit()
            task = self._api("POST", f"{self._user()}/media", {
                "media_type": "REELS", "upload_type": "resumable", "caption": caption,
                "share_to_feed": "true",
            })  # fmt: skip
            journal.started(json.dumps({"id": task["id"], "uri": task["uri"]}), size)
        self._send(short.video, task, size, journal, what)
        self._await(task["id"], what)
        media = self._api("POST", f"{self._user()}/media_publish", {"creation_id": task["id"]})
        return self._published(media["id"])

    # --- steps ---------------------------------------------------------------------------

    def _user(self) -> str:
        return str(self.token.info()["ig_user_id"])

    def _check_limit(self) -> None:
        answer = self._api("GET", f"{self._user()}/content_publishing_limit",
                           {"fields": "quota_usage,config"})  # fmt: skip
        [limit] = answer.get("data") or [{}]
        used, total = limit.get("quota_usage", 0), (limit.get("config") or {}).get("quota_total")
        if total is not None and used >= total:
            raise QuotaExhausted(
                f"Instagram: {used} of {total} posts in the last 24 h (its publishing limit)",
                "content_publishing_limit",
            )

    def _container(self, container: str) -> dict:
        return self._api("GET", container, {"fields": "status_code,status,video_status"})

    def _send(self, video: Path, task: dict, size: int, journal: UploadJournal, what: str) -> None:
        """The bytes from where Instagram's upload stands: each try asks it first."""

        def attempt() -> None:
            phase = (self._container(task["id"]).get("video_status") or {}).get(
                "uploading_phase"
            ) or {}
            offset = int(phase.get("bytes_transferred") or 0)
            if offset >= size:
                return
            with video.open("rb") as file:
                file.seek(offset)
                resp = self.http.post(
                    self._rupload(task["uri"]),
                    data=file.read(),
                    headers={
                        "Authorization": f"OAuth {self.token.bearer()}",
                        "offset": str(offset),
                        "file_size": str(size),
                    },
                    timeout=300,
                )
            answer = json_of(resp)
            if resp.status_code == 200 and answer.get("success"):
                journal.progressed(size)
                return
            debug = answer.get("debug_info") or {}
            problem = f"{resp.status_code}: {debug.get('message') or said(answer)}"
            if resp.status_code < 500 and not debug.get("retriable"):
                raise PublishRejected(f"Instagram refused the upload ({problem})", "upload")
            raise Retry(f"the upload stopped ({problem})")

        self.backoff.run(f"{what}: upload", attempt)

    def _rupload(self, uri: str) -> str:
        """The container's upload uri, on the loopback fake's host when one is set."""
        if not self.upload_url:
            return uri
        path = uri.split("/ig-api-upload/", 1)[1]
        return self.upload_url.rstrip("/") + "/ig-api-upload/" + path

    def _await(self, container: str, what: str) -> None:
        for _ in range(self.poll_tries):
            state = self._container(container)
            code = state.get("status_code")
            if code == "FINISHED":
                return
            if code in ("ERROR", "EXPIRED"):
                raise PublishRejected(
                    f"Instagram did not take the Reel: {code} ({state.get('status', '')})",
                    str(code),
                )
            self.sleep(self.poll_s)
        raise PublishError(f"{what}: container {container} still processing; the next run asks")

    def _published(self, media_id: str) -> Published:
        media = self._api("GET", media_id, {"fields": "id,permalink"})
        return Published("instagram", media_id, media.get("permalink", ""), "public")

    def _found(self, caption: str, container: str) -> Published:
        """The Reel a published container made, by its caption among the latest media."""
        listed = self._api("GET", f"{self._user()}/media", {"fields": "id,caption,permalink"})
        for media in listed.get("data") or []:
            if media.get("caption") == caption:
                return Published("instagram", media["id"], media.get("permalink", ""), "public")
        return Published("instagram", container, "", "public")  # published; not listed yet

    # --- the API -------------------------------------------------------------------------

    def _api(self, method: str, path: str, params: dict) -> dict:
        return self.backoff.run(path, lambda: self._call(method, path, params))

    def _call(self, method: str, path: str, params: dict, fresh: bool = False) -> dict:
        headers = {"Authorization": f"Bearer {self.token.bearer(fresh)}"}
        url = self.graph + path
        if method == "GET":
            resp = self.http.get(url, params=params, headers=headers, timeout=60)
        else:
            resp = self.http.post(url, data=params, headers=headers, timeout=60)
        answer = json_of(resp)
        error = answer.get("error")
        if resp.status_code == 200 and not error:
            return answer
        error = error if isinstance(error, dict) else {}
        code, subcode = error.get("code"), error.get("error_subcode")
        if code == 190 and not fresh:  # expired or invalidated: refresh once, ask again
            return self._call(method, path, params, fresh=True)
        if code == 190:
            raise CredentialsRefused(f"{REFUSED_AUTH} ({said(answer)})", "190")
        if subcode in LIMIT_SUBCODES:
            raise QuotaExhausted(f"Instagram: {said(answer)}", "publishing_limit")
        if resp.status_code >= 500 or code in RETRY_CODES or error.get("is_transient"):
            raise Retry(f"Instagram answered {resp.status_code} {said(answer)}")
        raise PublishRejected(f"Instagram refused ({resp.status_code} {said(answer)})", str(code))
