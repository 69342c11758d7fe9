"""The loopback fake YouTube's read-back: scoped tokens, the Data API's videos.list and the
Analytics API's reports.query, driven through google-api-python-client itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from googleapiclient.errors import HttpError
from wagglebot_stack.fake_youtube import ANALYTICS, READONLY, UPLOAD, FakeYouTube

from wagglebot.publish import ShortUpload
from wagglebot.publish.metadata import ShortMetadata
from wagglebot.publish.youtube import google_service

from youtube_support import CLIENT_SECRET, REFRESH_TOKEN, Recorder, publisher, video_file

ALL = [UPLOAD, READONLY, ANALYTICS]
# 12:00 in Los Angeles (PST, UTC-8) on 2026-12-10: half of that Pacific day gone by.
NOW = datetime(2026, 12, 10, 20, 0, tzinfo=UTC)
METRICS = "views,engagedViews,averageViewDuration,averageViewPercentage,likes"
INSUFFICIENT = {
    "error": {
        "code": 403,
        "message": "Request had insufficient authentication scopes.",
        "errors": [
            {
                "message": "Insufficient Permission",
                "domain": "global",
                "reason": "insufficientPermissions",
            }
        ],
        "status": "PERMISSION_DENIED",
    }
}
UNSUPPORTED = {
    "error": {
        "code": 400,
        "message": "The query is not supported.",
        "errors": [
            {"message": "The query is not supported.", "domain": "global", "reason": "badRequest"}
        ],
    }
}


class Clock:
    """The fake's clock, moved by hand."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def _credentials(fake: FakeYouTube, scopes: list[str]) -> Credentials:
    return Credentials(
        token=None,
        refresh_token=REFRESH_TOKEN,
        token_uri=f"{fake.url}token",
        client_id="wagglebot-test.apps.example",
        client_secret=CLIENT_SECRET,
        scopes=scopes,
    )


def _videos(fake: FakeYouTube, scopes: list[str] = ALL) -> Any:
    return google_service("youtube", "v3", _credentials(fake, scopes), fake.url, 30).videos()


def _reports(fake: FakeYouTube, scopes: list[str] = ALL) -> Any:
    service = google_service("youtubeAnalytics", "v2", _credentials(fake, scopes), fake.url, 30)
    return service.reports()


def _query(fake: FakeYouTube, scopes: list[str] = ALL, **params: Any) -> dict:
    asked = {
        "ids": "channel==MINE",
        "startDate": "2026-11-01",
        "endDate": "2026-12-31",
        "metrics": METRICS,
        **params,
    }
    sent = {name: value for name, value in asked.items() if value is not None}  # None: left out
    return _reports(fake, scopes).query(**sent).execute()


def _refusal(caught: pytest.ExceptionInfo[HttpError]) -> dict:
    return json.loads(caught.value.content)


def _history(fake: FakeYouTube, video_id: str = "hist0000001", days: int = 15) -> None:
    """A video uploaded 2026-12-01 10:00 PST with day d = 100 + d views."""
    rows = [
        {
            "views": 100 + d,
            "engagedViews": 80 + d,
            "averageViewDuration": 30,
            "averageViewPercentage": 66.5,
            "likes": 3,
        }
        for d in range(days)
    ]
    fake.load_history(
        [{"id": video_id, "uploaded_at": "2026-12-01T18:00:00Z", "title": "과거", "days": rows}]
    )


def _upload(fake: FakeYouTube, tmp_path: Path, n: int) -> list[str]:
    ids = []
    for i in range(n):
        video, _ = video_file(tmp_path / f"short{i}.mp4", 100_000)
        meta = ShortMetadata(title=f"쇼츠 {i}", description="설명")
        ids.append(publisher(fake).upload(ShortUpload(i, video, meta), Recorder()).video_id)
    return ids


@pytest.fixture
def clock(fake_youtube: FakeYouTube) -> Clock:
    fake_youtube.state.clock = Clock(NOW)
    return fake_youtube.state.clock


# --- videos.list --------------------------------------------------------------------------


def test_uploaded_videos_have_statistics_a_minute_later_that_never_go_down(
    fake_youtube: FakeYouTube, clock: Clock, tmp_path: Path
) -> None:
    ids = _upload(fake_youtube, tmp_path, 3)
    clock.at = NOW + timedelta(minutes=1)
    answer = _videos(fake_youtube).list(part="statistics", id=",".join(ids)).execute()
    assert answer["kind"] == "youtube#videoListResponse"
    assert answer["etag"]
    assert answer["pageInfo"] == {"totalResults": 3, "resultsPerPage": 3}
    assert [item["id"] for item in answer["items"]] == ids
    for item in answer["items"]:
        assert item["kind"] == "youtube#video"
        assert item["etag"]
        stats = item["statistics"]
        assert set(stats) == {"viewCount", "likeCount", "favoriteCount", "commentCount"}
        assert all(isinstance(v, str) for v in stats.values())  # uint64 as JSON strings
        assert int(stats["viewCount"]) > 0  # a demo shows figures at once
        assert stats["favoriteCount"] == "0"
    seen = {item["id"]: int(item["statistics"]["viewCount"]) for item in answer["items"]}
    for step in (timedelta(minutes=5), timedelta(hours=3), timedelta(hours=12), timedelta(days=2)):
        clock.at += step
        again = _videos(fake_youtube).list(part="statistics", id=",".join(ids)).execute()
        now = {item["id"]: int(item["statistics"]["viewCount"]) for item in again["items"]}
        assert all(now[i] >= seen[i] for i in ids)
        seen = now
    assert all(seen[i] > 200 for i in ids)  # two days on, well past the first minute
    assert [e["ids"] for e in fake_youtube.log("stats")] == [3] * 5


def test_a_video_just_uploaded_has_views_on_the_real_clock(
    fake_youtube: FakeYouTube, tmp_path: Path
) -> None:
    [video_id] = _upload(fake_youtube, tmp_path, 1)
    [item] = _videos(fake_youtube).list(part="statistics", id=video_id).execute()["items"]
    assert int(item["statistics"]["viewCount"]) >= 1


def test_videos_list_totals_are_the_loaded_days_so_far(
    fake_youtube: FakeYouTube, clock: Clock
) -> None:
    _history(fake_youtube)
    answer = _videos(fake_youtube).list(part="id,snippet,status,statistics", id="hist0000001")
    [item] = answer.execute()["items"]
    # Days 0-8 (Dec 1-9) whole, day 9 (Dec 10) half gone: ceil(109 / 2) = 55.
    assert item["statistics"]["viewCount"] == str(sum(100 + d for d in range(9)) + 55)
    assert item["statistics"]["likeCount"] == str(3 * 9 + 2)
    assert item["statistics"]["commentCount"] == "0"  # not loaded
    assert item["snippet"] == {"publishedAt": "2026-12-01T18:00:00Z", "title": "과거"}
    assert item["status"]["privacyStatus"] == "public"


def test_unknown_ids_are_left_out_and_fifty_is_the_limit(
    fake_youtube: FakeYouTube, clock: Clock
) -> None:
    _history(fake_youtube)
    fifty = ["hist0000001", *(f"unknown{i:04d}" for i in range(49))]
    answer = _videos(fake_youtube).list(part="statistics", id=",".join(fifty)).execute()
    assert [item["id"] for item in answer["items"]] == ["hist0000001"]
    assert answer["pageInfo"]["totalResults"] == 1
    with pytest.raises(HttpError) as caught:
        _videos(fake_youtube).list(part="statistics", id=",".join([*fifty, "one-more"])).execute()
    assert caught.value.resp.status == 400
    assert _refusal(caught)["error"]["errors"][0]["reason"] == "badRequest"
    assert [(e["status"], e["ids"]) for e in fake_youtube.log("stats")] == [(200, 50), (400, 51)]


def test_videos_list_refuses_a_missing_part_or_id_and_an_unknown_token(
    fake_youtube: FakeYouTube,
) -> None:
    token = requests.post(
        f"{fake_youtube.url}token",
        timeout=10,
        data={"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN},
    ).json()
    url = f"{fake_youtube.url}youtube/v3/videos"
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    no_part = requests.get(url, params={"id": "x"}, headers=auth, timeout=10)
    assert no_part.status_code == 400
    assert no_part.json()["error"]["errors"][0]["reason"] == "required"
    assert no_part.json()["error"]["message"] == "Required parameter: part"
    no_id = requests.get(url, params={"part": "statistics"}, headers=auth, timeout=10)
    assert no_id.status_code == 400
    assert no_id.json()["error"]["errors"][0]["reason"] == "missingRequiredParameter"
    stranger = requests.get(
        url,
        params={"part": "statistics", "id": "x"},
        timeout=10,
        headers={"Authorization": "Bearer nobody"},
    )
    assert stranger.status_code == 401
    assert stranger.json()["error"]["errors"][0]["reason"] == "authError"


# --- scopes -------------------------------------------------------------------------------


def test_an_upload_only_token_is_refused_both_reads_with_googles_body(
    fake_youtube: FakeYouTube,
) -> None:
    with pytest.raises(HttpError) as caught:
        _videos(fake_youtube, [UPLOAD]).list(part="statistics", id="x").execute()
    assert caught.value.resp.status == 403
    assert _refusal(caught) == INSUFFICIENT
    assert "insufficient_scope" in caught.value.resp["www-authenticate"]
    with pytest.raises(HttpError) as caught:
        _query(fake_youtube, [UPLOAD, READONLY], dimensions="day", filters="video==x")
    assert caught.value.resp.status == 403
    assert _refusal(caught) == INSUFFICIENT
    assert [e["status"] for e in fake_youtube.log("stats") + fake_youtube.log("reports")] == [
        403,
        403,
    ]


def test_a_refresh_asking_for_more_than_the_owner_granted_is_invalid_scope(
    fake_youtube: FakeYouTube,
) -> None:
    fake_youtube.grant([UPLOAD])
    with pytest.raises(RefreshError, match="invalid_scope"):
        _videos(fake_youtube).list(part="statistics", id="x").execute()
    assert [e["status"] for e in fake_youtube.log("token")] == [400]
    # Over HTTP, the same hook; a refresh without scope gets all that is granted.
    answer = requests.post(
        f"{fake_youtube.url}_fake/granted", json={"scopes": [UPLOAD, READONLY]}, timeout=10
    )
    assert answer.json() == {"granted": sorted([UPLOAD, READONLY])}
    token = requests.post(
        f"{fake_youtube.url}token",
        timeout=10,
        data={"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN},
    ).json()
    assert token["scope"].split() == sorted([UPLOAD, READONLY])
    assert fake_youtube.state.tokens[token["access_token"]] == {UPLOAD, READONLY}
    asked = requests.post(
        f"{fake_youtube.url}token",
        timeout=10,
        data={"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN, "scope": UPLOAD},
    ).json()
    assert asked["scope"] == UPLOAD


def test_consent_grants_what_it_asked_that_the_owner_allows(fake_youtube: FakeYouTube) -> None:
    fake_youtube.grant([UPLOAD, ANALYTICS])
    consent = requests.get(
        f"{fake_youtube.url}o/oauth2/auth",
        params={
            "scope": f"{UPLOAD} {READONLY} {ANALYTICS}",
            "state": "s",
            "redirect_uri": "http://127.0.0.1:1/",
        },
        allow_redirects=False,
        timeout=10,
    )
    code = parse_qs(urlsplit(consent.headers["Location"]).query)["code"][0]
    token = requests.post(
        f"{fake_youtube.url}token",
        timeout=10,
        data={"grant_type": "authorization_code", "code": code},
    ).json()
    assert token["scope"] == f"{UPLOAD} {ANALYTICS}"
    assert token["refresh_token"] == REFRESH_TOKEN


# --- reports.query ------------------------------------------------------------------------


def test_a_days_rows_wait_for_the_analytics_lag(fake_youtube: FakeYouTube, clock: Clock) -> None:
    _history(fake_youtube)
    table = _query(fake_youtube, dimensions="day", filters="video==hist0000001", sort="day")
    assert table["kind"] == "youtubeAnalytics#resultTable"
    assert table["columnHeaders"] == [
        {"name": "day", "columnType": "DIMENSION", "dataType": "STRING"},
        {"name": "views", "columnType": "METRIC", "dataType": "INTEGER"},
        {"name": "engagedViews", "columnType": "METRIC", "dataType": "INTEGER"},
        {"name": "averageViewDuration", "columnType": "METRIC", "dataType": "INTEGER"},
        {"name": "averageViewPercentage", "columnType": "METRIC", "dataType": "FLOAT"},
        {"name": "likes", "columnType": "METRIC", "dataType": "INTEGER"},
    ]
    # Lag 2 on Dec 10 (Pacific): Dec 1 to Dec 8.
    assert [row[0] for row in table["rows"]] == [f"2026-12-{d:02d}" for d in range(1, 9)]
    assert table["rows"][0] == ["2026-12-01", 100, 80, 30, 66.5, 3]
    assert table["rows"][-1] == ["2026-12-08", 107, 87, 30, 66.5, 3]
    fake_youtube.set_analytics(lag_days=0)
    table = _query(fake_youtube, dimensions="day", filters="video==hist0000001", sort="-day")
    assert [row[0] for row in table["rows"]][:2] == ["2026-12-10", "2026-12-09"]
    assert len(table["rows"]) == 10
    assert table["rows"][0][1] == 55  # today, half gone: ceil(109 / 2)
    [item] = _videos(fake_youtube).list(part="statistics", id="hist0000001").execute()["items"]
    assert int(item["statistics"]["viewCount"]) == sum(row[1] for row in table["rows"])
    assert [e["rows"] for e in fake_youtube.log("reports")] == [8, 10]


def test_a_day_not_yet_in_is_an_answer_without_rows(
    fake_youtube: FakeYouTube, clock: Clock
) -> None:
    _history(fake_youtube)
    table = _query(
        fake_youtube,
        startDate="2026-12-09",
        endDate="2026-12-10",
        dimensions="day",
        filters="video==hist0000001",
    )
    assert "rows" not in table  # as Google: no rows, no key
    assert [h["name"] for h in table["columnHeaders"]] == ["day", *METRICS.split(",")]


def test_missing_rows_are_withheld_from_days_and_totals(
    fake_youtube: FakeYouTube, clock: Clock
) -> None:
    _history(fake_youtube)
    fake_youtube.set_analytics(missing=[("hist0000001", "2026-12-03")])
    table = _query(fake_youtube, dimensions="day", filters="video==hist0000001")
    assert "2026-12-03" not in [row[0] for row in table["rows"]]
    assert len(table["rows"]) == 7
    # Over HTTP: lag 0 and a second missing day.
    answer = requests.post(
        f"{fake_youtube.url}_fake/analytics",
        timeout=10,
        json={
            "lag_days": 0,
            "missing": [["hist0000001", "2026-12-03"], ["hist0000001", "2026-12-05"]],
        },
    )
    assert answer.json()["lag_days"] == 0
    totals = _query(fake_youtube, metrics="views", dimensions="video", filters="video==hist0000001")
    assert totals["rows"] == [["hist0000001", sum(100 + d for d in range(9)) + 55 - 102 - 104]]


def test_totals_per_video_add_counts_and_weigh_averages(
    fake_youtube: FakeYouTube, clock: Clock
) -> None:
    fake_youtube.set_analytics(lag_days=0)
    fake_youtube.load_history(
        [
            {
                "id": "a0000000001",
                "uploaded_at": "2026-11-20T18:00:00Z",
                "days": [
                    {"views": 300, "averageViewPercentage": 50.0, "averageViewDuration": 20},
                    {"views": 100, "averageViewPercentage": 90.0, "averageViewDuration": 40},
                ],
            },
            {
                "id": "b0000000002",
                "uploaded_at": "2026-11-21T18:00:00Z",
                "days": [{"views": 1000, "averageViewPercentage": 80.0, "likes": 30}],
            },
        ]
    )
    table = _query(
        fake_youtube,
        metrics="views,averageViewPercentage,averageViewDuration,likes",
        dimensions="video",
        filters="video==a0000000001,b0000000002,nothing0000",
        sort="-views",
    )
    assert table["columnHeaders"][0] == {
        "name": "video",
        "columnType": "DIMENSION",
        "dataType": "STRING",
    }
    assert table["rows"] == [
        ["b0000000002", 1000, 80.0, 0, 30],
        ["a0000000001", 400, 60.0, 25, 0],  # (300 * 50 + 100 * 90) / 400; (6000 + 4000) / 400
    ]
    first = _query(
        fake_youtube,
        metrics="views",
        dimensions="video",
        maxResults=1,
        sort="views",
        filters="video==a0000000001,b0000000002",
    )
    assert first["rows"] == [["a0000000001", 400]]


@pytest.mark.parametrize(
    "params",
    [
        {"dimensions": "country", "filters": "video==hist0000001"},
        {"dimensions": "day", "filters": "video==hist0000001,other000001"},
        {"dimensions": "video"},  # a top-videos list: not here
        {"dimensions": "day", "filters": "video==hist0000001;country==KR"},
    ],
)
def test_other_queries_are_not_supported(
    fake_youtube: FakeYouTube, clock: Clock, params: dict
) -> None:
    with pytest.raises(HttpError) as caught:
        _query(fake_youtube, **params)
    assert caught.value.resp.status == 400
    assert _refusal(caught) == UNSUPPORTED


def test_a_shorts_filter_is_accepted(fake_youtube: FakeYouTube, clock: Clock) -> None:
    _history(fake_youtube)
    table = _query(
        fake_youtube, dimensions="day", filters="video==hist0000001;creatorContentType==SHORTS"
    )
    assert len(table["rows"]) == 8


def test_an_unknown_metric_a_missing_date_and_another_channel_are_refused(
    fake_youtube: FakeYouTube, clock: Clock
) -> None:
    with pytest.raises(HttpError) as caught:
        _query(fake_youtube, metrics="views,watchTime", dimensions="day", filters="video==x")
    assert caught.value.resp.status == 400
    [error] = _refusal(caught)["error"]["errors"]
    assert error["message"] == "Unknown identifier (watchTime) given in field parameters.metrics."
    assert error["reason"] == "badRequest"
    with pytest.raises(HttpError) as caught:
        _query(fake_youtube, startDate=None, dimensions="day", filters="video==x")
    assert caught.value.resp.status == 400
    assert _refusal(caught)["error"]["message"] == "Required parameter: startDate"
    with pytest.raises(HttpError) as caught:
        _query(fake_youtube, ids="channel==UCsomeoneElse", dimensions="day", filters="video==x")
    assert caught.value.resp.status == 403
    assert _refusal(caught)["error"]["errors"][0]["reason"] == "forbidden"


def test_the_made_up_series_is_steady_and_plausible(
    fake_youtube: FakeYouTube, clock: Clock, tmp_path: Path
) -> None:
    [video_id] = _upload(fake_youtube, tmp_path, 1)
    clock.at = NOW + timedelta(days=6)
    fake_youtube.set_analytics(lag_days=0)
    metrics = "views,engagedViews,averageViewDuration,averageViewPercentage,likes,comments"
    once = _query(fake_youtube, metrics=metrics, dimensions="day", filters=f"video=={video_id}")
    again = _query(fake_youtube, metrics=metrics, dimensions="day", filters=f"video=={video_id}")
    assert once == again
    rows = once["rows"]
    assert len(rows) == 7  # Dec 10 (upload day, from noon) to Dec 16
    whole = rows[1:-1]  # days 1-5, whole
    assert 200 * 0.65 * 0.8 <= whole[0][1] <= 5000 * 0.65 * 1.2
    assert whole[-1][1] < whole[0][1]  # decaying
    for _, views, engaged, duration, percentage, likes, comments in rows:
        # 70-85 % engaged, 2-4 % likes (give or take the rounding of a part day)
        assert 0.6 * views - 2 <= engaged <= 0.9 * views + 2
        assert 40 <= percentage <= 110
        assert duration == round(percentage * 45 / 100)
        assert 0.01 * views - 2 <= likes <= 0.05 * views + 2
        assert comments <= 0.01 * views + 2


# --- faults -------------------------------------------------------------------------------


def test_a_503_is_answered_once_then_the_call_works(
    fake_youtube: FakeYouTube, clock: Clock
) -> None:
    _history(fake_youtube)
    fake_youtube.add_fault("stats", status=503)
    fake_youtube.add_fault("reports", status=503)
    request = _videos(fake_youtube).list(part="statistics", id="hist0000001")
    with pytest.raises(HttpError) as caught:
        request.execute()
    assert caught.value.resp.status == 503
    assert _refusal(caught)["error"]["errors"][0]["reason"] == "backendError"
    assert request.execute()["items"][0]["id"] == "hist0000001"
    with pytest.raises(HttpError):
        _query(fake_youtube, dimensions="day", filters="video==hist0000001")
    assert len(_query(fake_youtube, dimensions="day", filters="video==hist0000001")["rows"]) == 8
    assert [e["status"] for e in fake_youtube.log("stats")] == [503, 200]
    assert fake_youtube.log("stats")[0] == {"kind": "stats", "status": 503, "fault": True, "ids": 1}
    assert [e["status"] for e in fake_youtube.log("reports")] == [503, 200]


def test_quota_exceeded_has_the_data_apis_body(fake_youtube: FakeYouTube) -> None:
    fake_youtube.add_fault("stats", reason="quotaExceeded")
    with pytest.raises(HttpError) as caught:
        _videos(fake_youtube).list(part="statistics", id="x").execute()
    assert caught.value.resp.status == 403
    assert _refusal(caught) == {
        "error": {
            "code": 403,
            "message": "The request cannot be completed because you have exceeded your quota.",
            "errors": [
                {
                    "message": "The request cannot be completed because you have exceeded "
                    "your quota.",
                    "domain": "youtube.quota",
                    "reason": "quotaExceeded",
                }
            ],
        }
    }


def test_history_loads_over_http_and_replaces(fake_youtube: FakeYouTube, clock: Clock) -> None:
    _history(fake_youtube)
    answer = requests.post(
        f"{fake_youtube.url}_fake/history",
        timeout=10,
        json={
            "videos": [
                {
                    "id": "hist0000001",
                    "uploaded_at": "2026-12-09T18:00:00Z",
                    "days": [{"views": 7}, {"views": 5}],
                }
            ]
        },
    )
    assert answer.json() == {"videos": 1}
    [item] = _videos(fake_youtube).list(part="statistics", id="hist0000001").execute()["items"]
    assert item["statistics"]["viewCount"] == str(7 + 3)  # Dec 9 whole, Dec 10 half: ceil(2.5)
    assert len(fake_youtube.videos()) == 1
