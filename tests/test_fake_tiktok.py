"""The loopback fake TikTok: Login Kit's desktop OAuth with hex PKCE, and the Content
Posting API's Direct Post with FILE_UPLOAD, driven over HTTP with plain requests."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from wagglebot_stack.fake_tiktok import (
    MIN_CHUNK,
    FakeTikTok,
    code_challenge,
)

CLIENT_KEY = "awfakeclientkey0001"
CLIENT_SECRET = "client-secret-never-logged-5d2e"
REFRESH_TOKEN = "rft.sample-refresh-never-logged-a41c"
VERIFIER = "v" * 20 + "-._~" + "0123456789abcdefghijklmnopqrstuvwxyz"  # 60 unreserved chars
REDIRECT = "http://127.0.0.1:53682/callback/"
MB = 1_000_000


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeTikTok]:
    fake = FakeTikTok(
        client_key=CLIENT_KEY,
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
        folder=tmp_path / "tiktok",
    ).start()
    yield fake
    fake.stop()


def video(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


def consent(fake: FakeTikTok, challenge: str | None, **params: str) -> requests.Response:
    query = {
        "client_key": CLIENT_KEY,
        "scope": "user.info.basic,video.publish",
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "state": "csrf-42",
        "code_challenge_method": "S256",
        **params,
    }
    if challenge is not None:
        query["code_challenge"] = challenge
    return requests.get(
        f"{fake.url}v2/auth/authorize/", params=query, allow_redirects=False, timeout=10
    )


def code_from(answer: requests.Response) -> str:
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == REDIRECT
    return parse_qs(back.query)["code"][0]


def exchange(fake: FakeTikTok, code: str, verifier: str = VERIFIER) -> requests.Response:
    form = {
        "client_key": CLIENT_KEY,
        "client_secret": CLIENT_SECRET,
        "code": code,
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    return requests.post(f"{fake.url}v2/oauth/token/", data=form, timeout=10)


def refresh(fake: FakeTikTok, token: str = REFRESH_TOKEN, secret: str = CLIENT_SECRET):
    form = {
        "client_key": CLIENT_KEY,
        "client_secret": secret,
        "grant_type": "refresh_token",
        "refresh_token": token,
    }
    return requests.post(f"{fake.url}v2/oauth/token/", data=form, timeout=10)


def access(fake: FakeTikTok) -> str:
    """An access token, by refreshing the newest refresh token."""
    answer = refresh(fake, fake.refresh_token)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def api(fake: FakeTikTok, path: str, token: str, body: dict | None = None) -> requests.Response:
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json; charset=UTF-8",
    }
    return requests.post(
        f"{fake.url}v2/post/publish/{path}", json=body or {}, headers=headers, timeout=10
    )


def init(
    fake: FakeTikTok,
    token: str,
    size: int,
    chunk: int | None = None,
    count: int | None = None,
    **post: object,
) -> requests.Response:
    """A Direct Post init; the chunk plan by the rules unless given."""
    chunk = chunk or (size if size < MIN_CHUNK else MIN_CHUNK)
    count = count if count is not None else max(1, size // chunk)
    post_info = {
        "title": "강아지 #shorts",
        "privacy_level": "SELF_ONLY",
        "disable_duet": False,
        "disable_comment": False,
        "disable_stitch": False,
        "brand_content_toggle": False,
        "brand_organic_toggle": False,
        "is_aigc": True,
        **post,
    }
    source = {
        "source": "FILE_UPLOAD",
        "video_size": size,
        "chunk_size": chunk,
        "total_chunk_count": count,
    }
    return api(fake, "video/init/", token, {"post_info": post_info, "source_info": source})


def error_of(answer: requests.Response) -> str:
    return answer.json()["error"]["code"]


def put(url: str, data: bytes, first: int, total: int, mime: str = "video/mp4"):
    last = first + len(data) - 1
    headers = {"Content-Type": mime, "Content-Range": f"bytes {first}-{last}/{total}"}
    return requests.put(url, data=data, headers=headers, timeout=30)


def spans(size: int, chunk: int) -> list[tuple[int, int]]:
    """(first, end) of each chunk: floor(size / chunk) of them, the last the rest."""
    count = max(1, size // chunk)
    return [(i * chunk, size if i == count - 1 else (i + 1) * chunk) for i in range(count)]


def status(fake: FakeTikTok, token: str, publish_id: str) -> dict:
    answer = api(fake, "status/fetch/", token, {"publish_id": publish_id})
    assert answer.status_code == 200, answer.text
    assert error_of(answer) == "ok"
    return answer.json()["data"]


def started(fake: FakeTikTok, size: int, **post: object) -> tuple[str, str, str]:
    """A token and an initialised post: (token, publish_id, upload_url)."""
    token = access(fake)
    answer = init(fake, token, size, **post)
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    return token, data["publish_id"], data["upload_url"]


# --- OAuth ------------------------------------------------------------------------------


def test_pkce_hex_challenge_is_exchanged_for_tokens(fake: FakeTikTok) -> None:
    answer = consent(fake, code_challenge(VERIFIER))
    back = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert back["state"] == ["csrf-42"]
    assert back["scopes"] == ["user.info.basic,video.publish"]
    tokens = exchange(fake, code_from(answer))
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert set(body) == {
        "access_token",
        "expires_in",
        "open_id",
        "refresh_token",
        "refresh_expires_in",
        "scope",
        "token_type",
    }
    assert (body["expires_in"], body["refresh_expires_in"]) == (86400, 31536000)
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "user.info.basic,video.publish"
    assert body["open_id"]
    assert hashlib.sha256(VERIFIER.encode()).hexdigest() == code_challenge(VERIFIER)
    info = api(fake, "creator_info/query/", body["access_token"])
    assert info.status_code == 200
    assert error_of(info) == "ok"
    assert exchange(fake, code_from(answer)).json()["error"] == "invalid_grant"  # used once


def test_pkce_refuses_a_wrong_verifier_and_a_base64url_challenge(fake: FakeTikTok) -> None:
    wrong = exchange(fake, code_from(consent(fake, code_challenge(VERIFIER))), VERIFIER + "x")
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_request"
    assert wrong.json()["error_description"] == "Code verifier or code challenge is invalid."
    assert wrong.json()["log_id"]
    # RFC 7636's encoding, which TikTok's desktop flow does not use: a mismatch
    digest = hashlib.sha256(VERIFIER.encode()).digest()
    b64url = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    refused = exchange(fake, code_from(consent(fake, b64url)))
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_request"
    other = consent(fake, code_challenge(VERIFIER))
    assert exchange(fake, code_from(other), "too-short").json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("challenge", "params", "why"),
    [
        (None, {}, "code_challenge is required"),
        ("abc", {"code_challenge_method": "plain"}, "must be S256"),
        ("abc", {"redirect_uri": "https://example.com/cb"}, "loopback"),
        ("abc", {"client_key": "someone-else"}, "unknown client"),
    ],
)
def test_authorize_refuses_without_redirecting(
    fake: FakeTikTok, challenge: str | None, params: dict, why: str
) -> None:
    answer = consent(fake, challenge, **params)
    assert answer.status_code == 400
    assert "Location" not in answer.headers
    assert why in answer.text
    assert "not TikTok" in answer.text


def test_refresh_rotates_the_refresh_token(fake: FakeTikTok) -> None:
    first = refresh(fake)
    assert first.status_code == 200, first.text
    rotated = first.json()["refresh_token"]
    assert rotated != REFRESH_TOKEN
    assert fake.refresh_token == rotated
    assert first.json()["scope"] == "video.publish"
    old = refresh(fake, REFRESH_TOKEN)
    assert (old.status_code, old.json()["error"]) == (400, "invalid_grant")
    second = refresh(fake, rotated)
    assert second.status_code == 200
    assert second.json()["refresh_token"] not in (rotated, REFRESH_TOKEN)
    assert refresh(fake, rotated).json()["error"] == "invalid_grant"
    bad_secret = refresh(fake, second.json()["refresh_token"], secret="nope")
    assert (bad_secret.status_code, bad_secret.json()["error"]) == (401, "invalid_client")


def test_token_fault_then_refresh_works(fake: FakeTikTok) -> None:
    fake.add_fault("token", status=503)
    failed = refresh(fake)
    assert (failed.status_code, failed.json()["error"]) == (503, "server_error")
    assert refresh(fake).status_code == 200  # the refresh token was not used up


# --- creator info and tokens ----------------------------------------------------------------


def test_creator_info(fake: FakeTikTok) -> None:
    answer = api(fake, "creator_info/query/", access(fake))
    assert answer.status_code == 200
    body = answer.json()
    assert body["error"]["code"] == "ok"
    assert body["error"]["log_id"]
    data = body["data"]
    assert data["privacy_level_options"] == [
        "PUBLIC_TO_EVERYONE",
        "MUTUAL_FOLLOW_FRIENDS",
        "SELF_ONLY",
    ]
    assert data["max_video_post_duration_sec"] == 600
    assert data["creator_username"] == "wagglebot"
    assert data["creator_nickname"]
    assert requests.get(data["creator_avatar_url"], timeout=10).status_code == 200
    assert {k: data[k] for k in ("comment_disabled", "duet_disabled", "stitch_disabled")} == {
        "comment_disabled": False,
        "duet_disabled": False,
        "stitch_disabled": False,
    }


def test_tokens_are_checked(fake: FakeTikTok) -> None:
    missing = api(fake, "creator_info/query/", "act.unknown")
    assert (missing.status_code, error_of(missing)) == (401, "access_token_invalid")
    basic = exchange(
        fake, code_from(consent(fake, code_challenge(VERIFIER), scope="user.info.basic"))
    )
    token = basic.json()["access_token"]
    for path in ("creator_info/query/", "video/init/"):
        answer = api(fake, path, token)
        assert (answer.status_code, error_of(answer)) == (401, "scope_not_authorized")


def test_an_expired_token_fault_makes_the_client_refresh(fake: FakeTikTok) -> None:
    token = access(fake)
    fake.add_fault("init", code="access_token_invalid")
    failed = init(fake, token, 3 * MB)
    assert (failed.status_code, error_of(failed)) == (401, "access_token_invalid")
    again = api(fake, "creator_info/query/", token)  # the token stays expired
    assert (again.status_code, error_of(again)) == (401, "access_token_invalid")
    assert init(fake, access(fake), 3 * MB).status_code == 200


def test_access_tokens_expire_with_time(fake: FakeTikTok) -> None:
    now = [1_000_000.0]
    fake.state.clock = lambda: now[0]
    token = access(fake)
    assert api(fake, "creator_info/query/", token).status_code == 200
    now[0] += 86_400
    assert error_of(api(fake, "creator_info/query/", token)) == "access_token_invalid"


# --- init -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "chunk", "count", "why"),
    [
        (20 * MB, 4 * MB, 5, "chunk_size must be between"),  # chunks under 5 MB
        (16 * MB, MIN_CHUNK, 4, "floor(video_size / chunk_size) = 3"),  # count mismatch
        (1001 * MIN_CHUNK, MIN_CHUNK, 1001, "total_chunk_count must be 1 to 1000"),
        (70 * MB, 70 * MB, 1, "chunk_size must be between"),  # over 64 MB must be split
        (3 * MB, 1 * MB, 3, "under 5 MB goes whole"),
        (3 * MB, 3 * MB, 2, "under 5 MB goes whole"),
        (12 * MB, 13 * MB, 1, "floor(video_size / chunk_size) = 0"),  # a chunk over the file
    ],
)
def test_init_refuses_bad_chunk_plans(
    fake: FakeTikTok, size: int, chunk: int, count: int, why: str
) -> None:
    answer = init(fake, access(fake), size, chunk, count)
    assert answer.status_code == 400
    assert error_of(answer) == "invalid_params"
    assert why in answer.json()["error"]["message"]
    assert fake.posts() == []


def test_a_small_file_goes_whole(fake: FakeTikTok) -> None:
    data = video(3 * MB)
    _token, publish_id, url = started(fake, len(data))
    assert publish_id.startswith("v_pub_file~v2-1.")
    assert parse_qs(urlsplit(url).query).keys() == {"upload_id", "upload_token"}
    sent = put(url, data, 0, len(data))
    assert sent.status_code == 201
    assert sent.headers["Content-Range"] == f"bytes 0-{len(data) - 1}/{len(data)}"
    [post] = fake.posts()
    assert post["sha256"] == hashlib.sha256(data).hexdigest()
    assert post["chunks"] == 1


def test_title_length_counts_utf16_units(fake: FakeTikTok) -> None:
    token = access(fake)
    fits = "😀" * 1100  # 1,100 characters, 2,200 UTF-16 units
    assert init(fake, token, 3 * MB, title=fits).status_code == 200
    over = "😀" * 1101  # 1,101 characters (under 2,200), 2,202 units
    assert len(over) < 2200
    answer = init(fake, token, 3 * MB, title=over)
    assert (answer.status_code, error_of(answer)) == (400, "invalid_params")
    assert "UTF-16" in answer.json()["error"]["message"]


def test_privacy_level_must_be_an_option(fake: FakeTikTok) -> None:
    answer = init(fake, access(fake), 3 * MB, privacy_level="FOLLOWER_OF_CREATOR")
    assert (answer.status_code, error_of(answer)) == (403, "privacy_level_option_mismatch")
    missing = init(fake, access(fake), 3 * MB, privacy_level=None)
    assert error_of(missing) == "privacy_level_option_mismatch"


def test_an_unaudited_client_posts_self_only(fake: FakeTikTok) -> None:
    token = access(fake)
    for level in ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS"):
        answer = init(fake, token, 3 * MB, privacy_level=level)
        assert answer.status_code == 403
        assert error_of(answer) == "unaudited_client_can_only_post_to_private_accounts"
    assert init(fake, token, 3 * MB, privacy_level="SELF_ONLY").status_code == 200
    fake.configure(audited=True)
    assert init(fake, token, 3 * MB, privacy_level="PUBLIC_TO_EVERYONE").status_code == 200


def test_pull_from_url_needs_a_verified_domain(fake: FakeTikTok) -> None:
    body = {
        "post_info": {"privacy_level": "SELF_ONLY"},
        "source_info": {"source": "PULL_FROM_URL", "video_url": "https://x.example/v.mp4"},
    }
    answer = api(fake, "video/init/", access(fake), body)
    assert (answer.status_code, error_of(answer)) == (403, "url_ownership_unverified")


def test_the_daily_cap_counts_posts_in_a_rolling_day(fake: FakeTikTok) -> None:
    now = [2_000_000.0]
    fake.state.clock = lambda: now[0]
    fake.configure(daily_cap=2)
    token = access(fake)
    assert init(fake, token, 3 * MB).status_code == 200  # pending
    _, _publish_id, url = started(fake, 3 * MB)
    assert put(url, video(3 * MB), 0, 3 * MB).status_code == 201  # complete
    over = init(fake, token, 3 * MB)
    assert (over.status_code, error_of(over)) == (403, "spam_risk_too_many_posts")
    info = api(fake, "creator_info/query/", token)  # TikTok's "intentional" 200
    assert (info.status_code, error_of(info)) == (200, "spam_risk_too_many_posts")
    now[0] += 86_401
    assert init(fake, access(fake), 3 * MB).status_code == 200


# --- upload -----------------------------------------------------------------------------


def test_a_chunked_upload_by_the_rules(fake: FakeTikTok) -> None:
    data = video(16 * MB)  # 16,000,000 at 5 MiB: floor = 3 chunks, the last 5,514,240
    _token, publish_id, url = started(fake, len(data))
    plan = spans(len(data), MIN_CHUNK)
    assert [end - first for first, end in plan] == [MIN_CHUNK, MIN_CHUNK, 5_514_240]
    answers = [put(url, data[first:end], first, len(data)) for first, end in plan]
    assert [a.status_code for a in answers] == [206, 206, 201]
    assert answers[0].headers["Content-Range"] == f"bytes 0-{MIN_CHUNK - 1}/{len(data)}"
    assert answers[2].headers["Content-Range"] == f"bytes 0-{len(data) - 1}/{len(data)}"
    [post] = fake.posts()
    assert (post["id"], post["bytes"], post["chunks"]) == (publish_id, len(data), 3)
    assert post["sha256"] == hashlib.sha256(data).hexdigest()
    assert post["is_aigc"] is True
    assert post["privacy_level"] == "SELF_ONLY"
    stored = Path(fake.state.uploads[parse_qs(urlsplit(url).query)["upload_id"][0]].path)
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == post["sha256"]


def test_a_chunk_sent_again_is_not_appended_twice(fake: FakeTikTok) -> None:
    data = video(12 * MB)  # 12,000,000 at 5 MiB: floor = 2 chunks, the last 6,757,120
    _token, _publish_id, url = started(fake, len(data))
    (a, b), (c, d) = spans(len(data), MIN_CHUNK)
    assert put(url, data[a:b], a, len(data)).status_code == 206
    again = put(url, data[a:b], a, len(data))
    assert again.status_code == 206
    assert again.headers["Content-Range"] == f"bytes 0-{b - 1}/{len(data)}"
    assert put(url, data[c:d], c, len(data)).status_code == 201
    assert put(url, data[c:d], c, len(data)).status_code == 201  # done is done
    [post] = fake.posts()
    assert (post["bytes"], post["chunks"], post["resent"]) == (len(data), 2, 2)
    assert post["sha256"] == hashlib.sha256(data).hexdigest()
    assert [e["resent"] for e in fake.log("chunk")] == [False, True, False, True]


def test_a_range_out_of_order_gets_416(fake: FakeTikTok) -> None:
    data = video(16 * MB)
    _token, _publish_id, url = started(fake, len(data))
    (a, b), (c, d), _ = spans(len(data), MIN_CHUNK)
    skipped = put(url, data[c:d], c, len(data))
    assert skipped.status_code == 416
    assert skipped.headers["Content-Range"] == f"bytes */{len(data)}"
    assert put(url, data[a:b], a, len(data)).status_code == 206
    misaligned = put(url, data[b - 10 : d], b - 10, len(data))
    assert misaligned.status_code == 416
    assert misaligned.headers["Content-Range"] == f"bytes 0-{b - 1}/{len(data)}"
    assert fake.posts()[0]["bytes"] == b


def test_bad_upload_headers_get_400(fake: FakeTikTok) -> None:
    data = video(3 * MB)
    _token, _publish_id, url = started(fake, len(data))
    assert put(url, data, 0, len(data), mime="image/png").status_code == 400
    assert put(url, data, 0, len(data) + 1).status_code == 400  # not the video_size
    assert fake.posts()[0]["bytes"] == 0


def test_an_expired_upload_url_gets_403(fake: FakeTikTok) -> None:
    fake.configure(upload_url_ttl_s=0)
    data = video(3 * MB)
    _token, _publish_id, url = started(fake, len(data))
    answer = put(url, data, 0, len(data))
    assert answer.status_code == 403
    assert fake.posts()[0]["bytes"] == 0


def test_an_unknown_upload_gets_404(fake: FakeTikTok) -> None:
    data = video(3 * MB)
    _token, _publish_id, url = started(fake, len(data))
    query = parse_qs(urlsplit(url).query)
    for upload_id, upload_token in (
        ("123", query["upload_token"][0]),
        (query["upload_id"][0], "forged"),
    ):
        other = f"{fake.url}video/?upload_id={upload_id}&upload_token={upload_token}"
        assert put(other, data, 0, len(data)).status_code == 404
    assert fake.posts()[0]["bytes"] == 0


def test_a_5xx_chunk_fault_then_the_same_chunk_succeeds(fake: FakeTikTok) -> None:
    data = video(12 * MB)
    _token, _publish_id, url = started(fake, len(data))
    (a, b), (c, d) = spans(len(data), MIN_CHUNK)
    fake.add_fault("chunk", status=503)
    failed = put(url, data[a:b], a, len(data))
    assert failed.status_code == 503
    assert error_of(failed) == "internal_error"
    assert put(url, data[a:b], a, len(data)).status_code == 206
    assert put(url, data[c:d], c, len(data)).status_code == 201
    [post] = fake.posts()
    assert (post["chunks"], post["resent"]) == (2, 0)
    assert post["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_dropped_chunk_is_sent_again(fake: FakeTikTok) -> None:
    data = video(12 * MB)
    _token, _publish_id, url = started(fake, len(data))
    (a, b), (c, d) = spans(len(data), MIN_CHUNK)
    fake.add_fault("chunk", nth=2, drop=True)
    assert put(url, data[a:b], a, len(data)).status_code == 206
    with pytest.raises(requests.ConnectionError):
        put(url, data[c:d], c, len(data))
    assert fake.posts()[0]["bytes"] == b  # nothing of the dropped chunk kept
    assert put(url, data[c:d], c, len(data)).status_code == 201
    assert fake.posts()[0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert [e["status"] for e in fake.log("chunk")] == [206, 0, 201]


# --- status and the page -----------------------------------------------------------------


def test_status_goes_from_processing_upload_to_publish_complete(fake: FakeTikTok) -> None:
    fake.configure(audited=True)
    data = video(3 * MB)
    title = "<script>alert(1)</script> 멍멍"
    token, publish_id, url = started(
        fake, len(data), privacy_level="PUBLIC_TO_EVERYONE", title=title
    )
    first = status(fake, token, publish_id)
    assert (first["status"], first["uploaded_bytes"]) == ("PROCESSING_UPLOAD", 0)
    assert first["publicaly_available_post_id"] == []
    assert put(url, data, 0, len(data)).status_code == 201
    processing = status(fake, token, publish_id)  # processing_polls = 1
    assert (processing["status"], processing["uploaded_bytes"]) == ("PROCESSING_UPLOAD", len(data))
    done = status(fake, token, publish_id)
    assert done["status"] == "PUBLISH_COMPLETE"
    assert "fail_reason" not in done
    [post_id] = done["publicaly_available_post_id"]
    assert isinstance(post_id, int)
    page = requests.get(f"{fake.url}@wagglebot/video/{publish_id}", timeout=10)
    assert page.status_code == 200
    assert "loopback stand-in for TikTok, not TikTok" in page.text
    assert "&lt;script&gt;" in page.text
    assert "<script>" not in page.text
    assert requests.get(f"{fake.url}@wagglebot/video/{post_id}", timeout=10).ok
    assert requests.get(f"{fake.url}@wagglebot/video/nope", timeout=10).status_code == 404


def test_a_self_only_post_has_no_public_id(fake: FakeTikTok) -> None:
    fake.configure(processing_polls=0)
    data = video(3 * MB)
    token, publish_id, url = started(fake, len(data))
    put(url, data, 0, len(data))
    done = status(fake, token, publish_id)
    assert done["status"] == "PUBLISH_COMPLETE"
    assert done["publicaly_available_post_id"] == []
    unknown = api(fake, "status/fetch/", token, {"publish_id": "v_pub_file~v2-1.1"})
    assert (unknown.status_code, error_of(unknown)) == (400, "invalid_publish_id")


def test_a_status_fault_fails_the_post(fake: FakeTikTok) -> None:
    data = video(3 * MB)
    token, publish_id, url = started(fake, len(data))
    put(url, data, 0, len(data))
    fake.add_fault("status", reason="duration_check_failed")
    failed = status(fake, token, publish_id)
    assert (failed["status"], failed["fail_reason"]) == ("FAILED", "duration_check_failed")
    assert status(fake, token, publish_id)["status"] == "FAILED"  # it stays failed
    assert fake.posts()[0]["status"] == "FAILED"
    fake.add_fault("status", status=500)
    answer = api(fake, "status/fetch/", token, {"publish_id": publish_id})
    assert (answer.status_code, error_of(answer)) == (500, "internal_error")


# --- steering and the log --------------------------------------------------------------------


def test_the_steering_endpoints(fake: FakeTikTok) -> None:
    config = requests.post(
        f"{fake.url}_fake/config",
        json={"audited": True, "daily_cap": 3, "processing_polls": 2},
        timeout=10,
    )
    assert config.status_code == 200
    assert {k: config.json()[k] for k in ("audited", "daily_cap", "processing_polls")} == {
        "audited": True,
        "daily_cap": 3,
        "processing_polls": 2,
    }
    assert requests.post(f"{fake.url}_fake/config", json={"nope": 1}, timeout=10).status_code == 400
    added = requests.post(f"{fake.url}_fake/faults", json={"on": "init", "status": 429}, timeout=10)
    assert added.json() == {"faults": 1}
    assert requests.post(f"{fake.url}_fake/faults", json={"on": "x"}, timeout=10).status_code == 400
    token = access(fake)
    limited = init(fake, token, 3 * MB, privacy_level="PUBLIC_TO_EVERYONE")
    assert (limited.status_code, error_of(limited)) == (429, "rate_limit_exceeded")
    requests.post(f"{fake.url}_fake/faults", json={"on": "init", "status": 500}, timeout=10)
    requests.post(f"{fake.url}_fake/faults/clear", timeout=10)
    assert init(fake, token, 3 * MB, privacy_level="PUBLIC_TO_EVERYONE").status_code == 200
    posts = requests.get(f"{fake.url}_fake/posts", timeout=10).json()
    assert [p["privacy_level"] for p in posts] == ["PUBLIC_TO_EVERYONE"]
    kinds = [e["kind"] for e in requests.get(f"{fake.url}_fake/log", timeout=10).json()]
    assert kinds == ["token", "init", "init"]


def test_the_log_holds_no_secret(fake: FakeTikTok) -> None:
    answer = consent(fake, code_challenge(VERIFIER))
    code = code_from(answer)
    tokens = exchange(fake, code).json()
    rotated = refresh(fake, tokens["refresh_token"]).json()
    data = video(3 * MB)
    publish = init(fake, rotated["access_token"], len(data)).json()["data"]
    put(publish["upload_url"], data, 0, len(data))
    status(fake, rotated["access_token"], publish["publish_id"])
    served = requests.get(f"{fake.url}_fake/log", timeout=10).text
    assert served == json.dumps(fake.log(), ensure_ascii=False)
    upload_token = parse_qs(urlsplit(publish["upload_url"]).query)["upload_token"][0]
    secrets = [
        code,
        VERIFIER,
        CLIENT_SECRET,
        REFRESH_TOKEN,
        upload_token,
        tokens["access_token"],
        tokens["refresh_token"],
        rotated["access_token"],
        rotated["refresh_token"],
    ]
    assert not [s for s in secrets if s in served]
    assert [e["token"] for e in fake.log("init")] == [True]  # present, not its value
    assert [e["kind"] for e in fake.log()] == [
        "consent",
        "token",
        "token",
        "init",
        "chunk",
        "status",
    ]


def test_from_token_file(tmp_path: Path) -> None:
    token_file = tmp_path / "tiktok-token.json"
    token_file.write_text(
        json.dumps(
            {
                "client_key": CLIENT_KEY,
                "client_secret": CLIENT_SECRET,
                "refresh_token": REFRESH_TOKEN,
            }
        )
    )
    fake = FakeTikTok.from_token_file(token_file, folder=tmp_path / "f").start()
    try:
        assert refresh(fake).status_code == 200
    finally:
        fake.stop()
