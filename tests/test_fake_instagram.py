"""The loopback fake Instagram: Facebook Login's dialog, code and fb_exchange_token
grants, the Pages' Instagram accounts, Reels through the Graph API's resumable upload,
the publishing limit and container failures, driven with plain requests (no database)."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from wagglebot_stack.fake_instagram import (
    PAGE_NAME,
    SAMPLE_APP_SECRET,
    USERNAME,
    FakeInstagram,
    from_token_file,
)

IG_USER = "17841400000000001"
FIRST_TOKEN = "EAAfirst-long-lived-token-for-the-tests-0123456789"
APP_ID, APP_SECRET = "1234567890123456", "app-secret-never-logged"
VERSION = "v23.0"
SCOPE = "instagram_basic,instagram_content_publish,pages_show_list,pages_read_engagement"
BACK = "http://localhost:9/callback/"
CAPTION = "퇴근길 고양이 <b>입양</b> & 후기 #고양이 #shorts @wagglebot"


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeInstagram]:
    server = FakeInstagram(
        ig_user_id=IG_USER,
        access_token=FIRST_TOKEN,
        folder=tmp_path / "fake",
        app_id=APP_ID,
        app_secret=APP_SECRET,
    ).start()
    yield server
    server.stop()


def graph(fake: FakeInstagram, path: str, version: str = VERSION) -> str:
    return f"{fake.url}{version}/{path}"


def create(fake: FakeInstagram, token: str = FIRST_TOKEN, **extra: str) -> requests.Response:
    data = {
        "media_type": "REELS",
        "upload_type": "resumable",
        "caption": CAPTION,
        "share_to_feed": "true",
        "thumb_offset": "1000",
        "access_token": token,
    }
    data.update(extra)
    return requests.post(graph(fake, f"{IG_USER}/media"), data=data, timeout=10)


def upload(
    uri: str, data: bytes, offset: int, total: int, token: str = FIRST_TOKEN, scheme: str = "OAuth"
) -> requests.Response:
    headers = {"Authorization": f"{scheme} {token}", "offset": str(offset), "file_size": str(total)}
    return requests.post(uri, data=data, headers=headers, timeout=30)


def container(
    fake: FakeInstagram, container_id: str, fields: str, token: str = FIRST_TOKEN
) -> dict:
    answer = requests.get(
        graph(fake, container_id), timeout=10, params={"fields": fields, "access_token": token}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def publish(fake: FakeInstagram, container_id: str, token: str = FIRST_TOKEN) -> requests.Response:
    return requests.post(
        graph(fake, f"{IG_USER}/media_publish"),
        timeout=10,
        data={"creation_id": container_id, "access_token": token},
    )


def ready(fake: FakeInstagram, data: bytes = b"reel" * 256, token: str = FIRST_TOKEN) -> str:
    """A container with all its bytes in, polled to FINISHED."""
    made = create(fake, token).json()
    assert upload(made["uri"], data, 0, len(data), token).json()["success"] is True
    for _ in range(5):
        if container(fake, made["id"], "status_code", token)["status_code"] == "FINISHED":
            return made["id"]
    raise AssertionError("the container never finished")


def exchange(
    fake: FakeInstagram, token: str, secret: str = APP_SECRET, app_id: str = APP_ID
) -> requests.Response:
    params = {"grant_type": "fb_exchange_token", "client_id": app_id,
              "client_secret": secret, "fb_exchange_token": token}  # fmt: skip
    return requests.get(graph(fake, "oauth/access_token"), params=params, timeout=10)


def dialog(fake: FakeInstagram, **over: str) -> requests.Response:
    params = {"client_id": APP_ID, "redirect_uri": BACK, "state": "st-1",
              "response_type": "code", "scope": SCOPE, **over}  # fmt: skip
    return requests.get(
        f"{fake.url}{VERSION}/dialog/oauth", params=params, allow_redirects=False, timeout=10
    )


def code_of(answer: requests.Response) -> str:
    where = urlsplit(answer.headers["Location"])
    assert f"{where.scheme}://{where.netloc}{where.path}" == BACK
    query = parse_qs(where.query)
    assert query["state"] == ["st-1"]
    return query["code"][0]


def swap(fake: FakeInstagram, code: str, **over: str) -> requests.Response:
    params = {"client_id": APP_ID, "redirect_uri": BACK, "client_secret": APP_SECRET,
              "code": code, **over}  # fmt: skip
    return requests.get(graph(fake, "oauth/access_token"), params=params, timeout=10)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error(answer: requests.Response) -> dict:
    body = answer.json()
    assert set(body) == {"error"}, body
    assert body["error"]["type"] == "OAuthException"
    assert body["error"]["fbtrace_id"]
    return body["error"]


def test_a_reel_resumes_after_a_dropped_connection_and_is_published_whole(
    fake: FakeInstagram, tmp_path: Path
) -> None:
    video = tmp_path / "short.mp4"
    video.write_bytes(random.Random(7).randbytes(3 * 1024 * 1024))
    data, total = video.read_bytes(), video.stat().st_size
    made = create(fake)
    assert made.status_code == 200, made.text
    container_id = made.json()["id"]
    assert made.json()["uri"] == f"{fake.url}ig-api-upload/{VERSION}/{container_id}"
    assert container(fake, container_id, "status_code")["status_code"] == "IN_PROGRESS"

    fake.add_fault("upload", drop=True, drop_after=1_000_000)
    with pytest.raises(requests.ConnectionError):
        upload(made.json()["uri"], data, 0, total)
    status = container(fake, container_id, "video_status")["video_status"]
    assert status["uploading_phase"] == {"status": "in_progress", "bytes_transferred": 1_000_000}
    assert status["processing_phase"] == {"status": "not_started"}

    sent = status["uploading_phase"]["bytes_transferred"]
    resumed = upload(made.json()["uri"], data[sent:], sent, total)
    assert resumed.status_code == 200
    assert resumed.json() == {"success": True, "message": "Upload successful."}
    polls = [container(fake, container_id, "status_code,status") for _ in range(2)]
    assert [p["status_code"] for p in polls] == ["IN_PROGRESS", "FINISHED"]
    assert polls[1]["id"] == container_id
    assert polls[1]["status"].startswith("Finished")
    done = container(fake, container_id, "video_status")["video_status"]
    assert done["uploading_phase"] == {"status": "complete", "bytes_transferred": total}

    published = publish(fake, container_id)
    assert published.status_code == 200, published.text
    [media] = fake.media()
    assert published.json() == {"id": media["id"]}
    assert media["sha256"] == hashlib.sha256(data).hexdigest()
    assert media["bytes"] == total
    assert media["container"] == container_id
    assert media["caption"] == CAPTION
    assert media["thumb_offset"] == 1000
    assert Path(media["file"]).read_bytes() == data
    assert container(fake, container_id, "status_code")["status_code"] == "PUBLISHED"

    read = requests.get(
        graph(fake, media["id"]),
        timeout=10,
        params={
            "fields": "id,media_type,media_product_type,permalink",
            "access_token": FIRST_TOKEN,
        },
    ).json()
    assert read["id"] == media["id"]
    assert (read["media_type"], read["media_product_type"]) == ("VIDEO", "REELS")
    assert read["permalink"].startswith(f"{fake.url}reel/")
    assert read["permalink"].endswith("/")
    page = requests.get(read["permalink"], timeout=10)
    assert page.status_code == 200
    assert "WaggleBot's loopback stand-in for Instagram, not Instagram" in page.text
    assert "&lt;b&gt;입양&lt;/b&gt; &amp; 후기" in page.text
    assert "<b>입양" not in page.text

    uploads = fake.log("upload")
    assert [(u["status"], u.get("dropped", False)) for u in uploads] == [(0, True), (200, False)]
    assert uploads[0]["kept"] == 1_000_000
    assert uploads[1]["offset"] == 1_000_000


def test_an_upload_at_the_wrong_offset_is_refused_and_changes_nothing(
    fake: FakeInstagram,
) -> None:
    data = random.Random(3).randbytes(64 * 1024)
    made = create(fake).json()
    first = upload(made["uri"], data[:40_000], 0, len(data))
    assert first.json()["success"] is True
    assert first.json()["bytes_transferred"] == 40_000
    for offset in (0, 50_000):
        wrong = upload(made["uri"], data[offset:], offset, len(data))
        assert wrong.status_code == 400
        info = wrong.json()["debug_info"]
        assert info["type"] == "ProcessingFailedError"
        assert info["retriable"] is False
        assert f"offset {offset}" in info["message"]
        assert "40000" in info["message"]
    status = container(fake, made["id"], "video_status,status_code")
    assert status["video_status"]["uploading_phase"]["bytes_transferred"] == 40_000
    assert status["status_code"] == "IN_PROGRESS"
    past = upload(made["uri"], data[40_000:] + b"extra", 40_000, len(data))
    assert past.status_code == 400
    assert "past file_size" in past.json()["debug_info"]["message"]
    done = upload(made["uri"], data[40_000:], 40_000, len(data))
    assert done.json() == {"success": True, "message": "Upload successful."}
    [held] = fake.containers()
    assert held["sha256"] == hashlib.sha256(data).hexdigest()


def test_the_upload_host_wants_the_oauth_scheme(fake: FakeInstagram) -> None:
    made = create(fake).json()
    data = b"x" * 1000
    for scheme in ("Bearer", "Basic"):
        refused = upload(made["uri"], data, 0, len(data), scheme=scheme)
        assert refused.status_code == 400
        assert refused.json()["debug_info"]["type"] == "NotAuthorizedError"
        assert "OAuth" in refused.json()["debug_info"]["message"]
    unknown = upload(made["uri"], data, 0, len(data), token="IGAAnot-a-token")
    assert unknown.json()["debug_info"]["type"] == "NotAuthorizedError"
    assert fake.containers()[0]["received"] == 0
    missing = requests.post(
        made["uri"], data=data, timeout=10, headers={"Authorization": f"OAuth {FIRST_TOKEN}"}
    )
    assert missing.status_code == 400
    assert missing.json()["debug_info"]["type"] == "ParameterValidationError"
    assert upload(made["uri"], data, 0, len(data)).json()["message"] == "Upload successful."


def test_caption_limits_are_refused_with_code_100(fake: FakeInstagram) -> None:
    refusals = {
        "x" * 2201: "2201 characters",
        " ".join(f"#tag{i}" for i in range(31)): "31 hashtags",
        " ".join(f"@user{i}" for i in range(21)): "21 @mentions",
    }
    for caption, why in refusals.items():
        answer = create(fake, caption=caption)
        assert answer.status_code == 400
        problem = error(answer)
        assert problem["code"] == 100
        assert why in problem["message"]
    assert fake.containers() == []
    at_limits = [
        "x" * 2200,
        " ".join(f"#tag{i}" for i in range(30)),
        " ".join(f"@user{i}" for i in range(20)) + " mail@example.com",
    ]
    for caption in at_limits:
        assert create(fake, caption=caption).status_code == 200
    assert len(fake.containers()) == 3
    other = create(fake, media_type="CAROUSEL_ALBUM")
    assert error(other)["code"] == 100
    assert "media_type" in error(other)["message"]
    by_url = create(fake, media_type="VIDEO", upload_type="")
    assert error(by_url)["code"] == 100


def test_publishing_a_container_twice_makes_one_media(fake: FakeInstagram) -> None:
    container_id = ready(fake)
    assert publish(fake, container_id).status_code == 200
    again = publish(fake, container_id)
    assert again.status_code == 400
    assert error(again)["code"] == 100
    assert "already been published" in error(again)["message"]
    assert len(fake.media()) == 1
    assert [e["status"] for e in fake.log("publish")] == [200, 400]


def test_publishing_before_processing_ends_is_refused(fake: FakeInstagram) -> None:
    made = create(fake).json()
    assert error(publish(fake, made["id"]))["error_subcode"] == 2207027
    upload(made["uri"], b"abc", 0, 3)
    early = error(publish(fake, made["id"]))
    assert (early["code"], early["error_subcode"]) == (9007, 2207027)
    assert fake.media() == []


def test_the_rolling_publishing_limit(fake: FakeInstagram) -> None:
    fake.configure(quota_total=2, processing_polls=0)
    containers = [ready(fake) for _ in range(3)]
    assert [publish(fake, c).status_code for c in containers[:2]] == [200, 200]
    third = publish(fake, containers[2])
    assert third.status_code == 400
    refused = error(third)
    assert (refused["code"], refused["error_subcode"]) == (9, 2207042)
    assert "maximum number of posts" in refused["message"]
    limit = requests.get(
        graph(fake, f"{IG_USER}/content_publishing_limit"),
        timeout=10,
        params={"fields": "quota_usage,config", "access_token": FIRST_TOKEN},
    ).json()
    assert limit == {
        "data": [{"quota_usage": 2, "config": {"quota_total": 2, "quota_duration": 86400}}]
    }
    assert len(fake.media()) == 2

    fake.configure(advance=86_401)  # a day on: the window is empty, the old container expired
    assert container(fake, containers[2], "status_code")["status_code"] == "EXPIRED"
    expired = error(publish(fake, containers[2]))
    assert (expired["code"], expired["error_subcode"]) == (-2, 2207020)
    assert publish(fake, ready(fake)).status_code == 200
    usage = requests.get(
        graph(fake, f"{IG_USER}/content_publishing_limit"),
        timeout=10,
        params={"access_token": FIRST_TOKEN},
    ).json()
    assert usage == {"data": [{"quota_usage": 1}]}


def test_a_container_that_fails_processing_says_so(fake: FakeInstagram) -> None:
    made = create(fake).json()
    upload(made["uri"], b"not really a video", 0, 18)
    fake.add_fault("container", reason="ERROR", subcode=2207026)
    failed = container(fake, made["id"], "status_code,status,video_status")
    assert failed["status_code"] == "ERROR"
    assert failed["status"] == "Error: Media upload has failed with error code 2207026"
    assert failed["video_status"]["processing_phase"] == {"status": "error"}
    assert container(fake, made["id"], "status_code")["status_code"] == "ERROR"  # for good
    refused = error(publish(fake, made["id"]))
    assert (refused["code"], refused["error_subcode"]) == (352, 2207026)
    assert fake.media() == []

    other = create(fake).json()
    fake.add_fault("container", reason="EXPIRED")
    assert container(fake, other["id"], "status_code")["status_code"] == "EXPIRED"


def test_an_expired_token_is_exchanged_and_works_again(fake: FakeInstagram) -> None:
    fake.add_fault("container_create", reason="expired")
    for _ in range(2):  # expired until exchanged, not just once
        refused = error(create(fake))
        assert (refused["code"], refused["error_subcode"]) == (190, 463)
        assert "Session has expired" in refused["message"]
    exchanged = exchange(fake, FIRST_TOKEN).json()
    new = exchanged["access_token"]
    assert exchanged == {"access_token": new, "token_type": "bearer", "expires_in": 5184000}
    assert new != FIRST_TOKEN
    assert fake.access_token == new
    assert create(fake, token=new).status_code == 200
    by_header = requests.post(
        graph(fake, f"{IG_USER}/media", version="v19.0"),
        timeout=10,
        headers=bearer(new),
        json={"media_type": "REELS", "upload_type": "resumable"},
    )
    assert by_header.status_code == 200
    assert "/ig-api-upload/v19.0/" in by_header.json()["uri"]
    assert [e.get("token_generation") for e in fake.log("container_create")] == [None, None, 1, 1]


def test_an_exchange_wants_the_app_and_an_unexpired_token(fake: FakeInstagram) -> None:
    wrong_secret = error(exchange(fake, FIRST_TOKEN, secret="not-the-secret"))
    assert (wrong_secret["code"], wrong_secret["message"]) == (1, "Error validating client secret.")
    assert error(exchange(fake, FIRST_TOKEN, app_id="999"))["code"] == 101
    fake.add_fault("exchange", reason="invalid_token")  # Meta refuses the exchange itself
    assert error(exchange(fake, FIRST_TOKEN))["code"] == 190
    new = exchange(fake, FIRST_TOKEN).json()["access_token"]
    assert create(fake, token=FIRST_TOKEN).status_code == 200  # the old one still works
    fake.configure(token_age=5_184_000)  # every token is now 60 days old: expired
    expired = error(exchange(fake, new))
    assert (expired["code"], expired["error_subcode"]) == (190, 463)
    assert error(create(fake, token=new))["error_subcode"] == 463
    unknown = error(exchange(fake, "EAAnever-issued"))
    assert unknown["code"] == 190
    assert "error_subcode" not in unknown
    wrong_grant = requests.get(
        graph(fake, "oauth/access_token"),
        timeout=10,
        params={"grant_type": "ig_refresh_token", "access_token": FIRST_TOKEN},
    )
    assert error(wrong_grant)["code"] == 100


def test_the_login_dialog_gives_a_code_that_works_once_for_its_redirect(
    fake: FakeInstagram,
) -> None:
    consent = dialog(fake)
    assert consent.status_code == 302
    code = code_of(consent)
    mismatch = error(swap(fake, code, redirect_uri="http://localhost:9/elsewhere/"))
    assert (mismatch["code"], mismatch["error_subcode"]) == (100, 36008)
    assert error(swap(fake, code, client_secret="wrong"))["code"] == 1
    granted = swap(fake, code)
    assert granted.status_code == 200, granted.text
    short = granted.json()
    assert (short["token_type"], short["expires_in"]) == ("bearer", 3600)
    used = error(swap(fake, code))
    assert (used["code"], used["error_subcode"]) == (100, 36009)
    permissions = requests.get(graph(fake, "me/permissions"), headers=bearer(short["access_token"]),
                               timeout=10).json()  # fmt: skip
    assert permissions == {
        "data": [{"permission": p, "status": "granted"} for p in SCOPE.split(",")]
    }
    long = exchange(fake, short["access_token"]).json()
    assert long["expires_in"] == 5_184_000
    assert create(fake, token=long["access_token"]).status_code == 200
    unused = code_of(dialog(fake))
    fake.configure(advance=601)  # a code lives 10 minutes
    late = error(swap(fake, unused))
    assert "expired" in late["message"]
    text = json.dumps(fake.log())
    for secret in (code, short["access_token"], long["access_token"], APP_SECRET):
        assert secret not in text


def test_the_dialog_refuses_what_meta_would_and_reports_a_denial(fake: FakeInstagram) -> None:
    wrong_app = dialog(fake, client_id="42")
    assert wrong_app.status_code == 400
    assert "Invalid App ID" in wrong_app.text
    assert "not Facebook" in wrong_app.text
    assert (
        "Invalid Scopes: publish_video" in dialog(fake, scope="instagram_basic,publish_video").text
    )
    assert dialog(fake, redirect_uri="").status_code == 400
    fake.add_fault("consent", reason="denied")
    denied = parse_qs(urlsplit(dialog(fake).headers["Location"]).query)
    assert (denied["error"], denied["error_reason"]) == (["access_denied"], ["user_denied"])
    assert "code" not in denied


def test_the_pages_and_their_instagram_accounts(fake: FakeInstagram) -> None:
    def accounts(fields: str = "id,name,instagram_business_account{id,username}") -> dict:
        return requests.get(graph(fake, "me/accounts"), params={"fields": fields},
                            headers=bearer(FIRST_TOKEN), timeout=10).json()  # fmt: skip

    [page] = accounts()["data"]
    assert page["name"] == PAGE_NAME
    assert page["instagram_business_account"] == {"id": IG_USER, "username": USERNAME}
    assert accounts("name")["data"] == [{"name": PAGE_NAME, "id": page["id"]}]
    assert error(requests.get(graph(fake, "me/accounts"), timeout=10))["code"] == 104
    plain = [{"id": "104000000000009", "name": "Cafe Page"}]
    set_pages = requests.post(f"{fake.url}_fake/pages", json=plain, timeout=10)
    assert set_pages.json() == plain
    assert accounts()["data"] == plain  # no Instagram account linked: no field at all
    assert requests.post(f"{fake.url}_fake/pages", json={"id": 1}, timeout=10).status_code == 400


def test_a_sample_token_file_without_an_app_takes_any_app_with_the_sample_secret(
    tmp_path: Path,
) -> None:
    path = tmp_path / "token.json"
    path.write_text(json.dumps({"access_token": FIRST_TOKEN, "ig_user_id": IG_USER}))
    fake = from_token_file(path).start()
    try:
        assert exchange(fake, FIRST_TOKEN, secret=SAMPLE_APP_SECRET, app_id="77").status_code == 200
        assert error(exchange(fake, FIRST_TOKEN, secret=APP_SECRET))["code"] == 1
        assert dialog(fake, client_id="77").status_code == 302
    finally:
        fake.stop()


def test_throttling_and_drop_faults_answer_like_graph(fake: FakeInstagram) -> None:
    fake.add_fault("publish", reason="rate_limit")
    container_id = ready(fake)
    throttled = publish(fake, container_id)
    assert throttled.status_code == 403
    assert error(throttled)["code"] == 4
    assert error(throttled)["is_transient"] is True
    fake.add_fault("publish", drop=True)  # published, but the answer is lost
    with pytest.raises(requests.ConnectionError):
        publish(fake, container_id)
    [media] = fake.media()
    assert container(fake, container_id, "status_code")["status_code"] == "PUBLISHED"
    listed = requests.get(
        graph(fake, f"{IG_USER}/media"),
        timeout=10,
        params={"fields": "id,permalink", "access_token": FIRST_TOKEN},
    ).json()
    assert listed == {"data": [{"id": media["id"], "permalink": media["permalink"]}]}
    fake.add_fault("limit", code=32, status=403, message="Page request limit reached")
    page_limit = requests.get(
        graph(fake, f"{IG_USER}/content_publishing_limit"),
        timeout=10,
        params={"access_token": FIRST_TOKEN},
    )
    assert page_limit.status_code == 403
    assert error(page_limit)["code"] == 32


def test_the_steering_endpoints(fake: FakeInstagram) -> None:
    settings = requests.post(f"{fake.url}_fake/config", json={"processing_polls": 0}, timeout=10)
    assert settings.json()["processing_polls"] == 0
    bad = requests.post(f"{fake.url}_fake/config", json={"no_such": 1}, timeout=10)
    assert bad.status_code == 400
    fault = {"on": "container_create", "reason": "server"}
    assert requests.post(f"{fake.url}_fake/faults", json=fault, timeout=10).json() == {"faults": 1}
    assert requests.post(f"{fake.url}_fake/faults/clear", timeout=10).json() == {"faults": 0}
    container_id = ready(fake)
    [listed] = requests.get(f"{fake.url}_fake/containers", timeout=10).json()
    assert listed["id"] == container_id
    assert listed["status_code"] == "FINISHED"
    publish(fake, container_id)
    [media] = requests.get(f"{fake.url}_fake/media", timeout=10).json()
    assert media["container"] == container_id
    assert len(media["sha256"]) == 64
    log = requests.get(f"{fake.url}_fake/log", params={"kind": "publish"}, timeout=10).json()
    assert [e["status"] for e in log] == [200]
    home = requests.get(fake.url, timeout=10)
    assert "not Instagram" in home.text


def test_the_log_holds_no_token(fake: FakeInstagram) -> None:
    fake.add_fault("publish", reason="expired")
    container_id = ready(fake)
    assert error(publish(fake, container_id))["error_subcode"] == 463
    new = exchange(fake, FIRST_TOKEN).json()["access_token"]
    assert publish(fake, container_id, token=new).status_code == 200
    requests.get(
        graph(fake, container_id), timeout=10, params={"fields": "status_code", "access_token": new}
    )
    upload(f"{fake.url}ig-api-upload/{VERSION}/{container_id}", b"late", 0, 4, token=new)
    served = requests.get(f"{fake.url}_fake/log", timeout=10).text
    kept = json.dumps(fake.log())
    assert len(fake.log()) >= 8
    for text in (served, kept):
        assert FIRST_TOKEN not in text
        assert new not in text
        assert APP_SECRET not in text
    assert all("access_token" not in entry for entry in fake.log())
