"""The dashboard's queries and the per-site popularity score, on the real MariaDB."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from wagglebot.core.db.models import Content, Post, Upload
from wagglebot.core.statuses import PostStatus, UploadState
from wagglebot.crawl.store import refresh_scores
from wagglebot.review.queries import (
    InboxFilter,
    gallery_page,
    inbox_page,
    published_page,
    uploads_in_flight,
)

from factories import add_posts


def _scores(session: Session, ids: list[int]) -> list[float | None]:
    session.expire_all()
    return [session.get(Post, pid).score for pid in ids]


def test_scores_compare_a_post_with_its_own_site(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        big = [
            add_posts(session, site_code="big", likes=likes, views=None)[0]
            for likes in (999, 9_999, 99_999)
        ]
        small = [
            add_posts(session, site_code="small", likes=likes, views=None)[0]
            for likes in (9, 99, 999)
        ]
        assert refresh_scores(session, "big") == 3
        assert refresh_scores(session, "small") == 3
        # Ten times the likes (of 1 + likes) is the same step on either site: the same scores.
        assert _scores(session, big) == pytest.approx(_scores(session, small))
        low, mid, high = _scores(session, big)
        assert low < mid < high
        assert mid == pytest.approx(0)
        assert high == pytest.approx(math.sqrt(1.5), abs=1e-5)  # z: (-1, 0, 1) / sqrt(2/3)


def test_a_score_averages_the_counts_a_post_shows_and_none_means_none(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        [both] = add_posts(session, site_code="s", likes=100, views=100)
        [likes_only] = add_posts(session, site_code="s", likes=100, views=None)
        [nothing] = add_posts(session, site_code="s", likes=None, views=None)
        [same] = add_posts(session, site_code="t", likes=5, views=None)
        add_posts(session, site_code="t", likes=5, views=None)
        refresh_scores(session, "s")
        refresh_scores(session, "t")
        scores = dict(
            zip(
                (both, likes_only, nothing, same),
                _scores(session, [both, likes_only, nothing, same]),
                strict=True,
            )
        )
    assert scores[nothing] is None
    assert scores[both] == pytest.approx(0)  # each count at its site's mean (one value each)
    assert scores[likes_only] == pytest.approx(0)
    assert scores[same] == 0  # no spread at all: nobody stands out


def test_dates_are_days_in_the_dashboards_time_zone(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        # 23:30 UTC on the 19th is 08:30 on the 20th in Seoul.
        [late] = add_posts(session, posted_at=datetime(2026, 11, 19, 23, 30))
        add_posts(session, posted_at=datetime(2026, 11, 19, 14, 0))  # 23:00 on the 19th there
        [unknown] = add_posts(session, posted_at=None)  # dated by when it was first seen
        seoul = InboxFilter(since=date(2026, 11, 20), until=date(2026, 11, 20))
        utc = InboxFilter(since=date(2026, 11, 20), until=date(2026, 11, 20), timezone="UTC")
        assert [c.id for c in inbox_page(session, seoul, 1, 10)[0]] == [late]
        assert inbox_page(session, utc, 1, 10) == ([], 0)
        today = InboxFilter(since=date.today())
        assert [c.id for c in inbox_page(session, today, 1, 10)[0]] == [unknown]


# --- a Short on several platforms ---------------------------------------------------------

S, U = PostStatus, UploadState
ASKED = datetime(2026, 12, 1, 8, 0)


def _made(session: Session, status: PostStatus, upload_meta: dict | None = None) -> int:
    [pid] = add_posts(session, status=status)
    session.add(Content(post_id=pid, summary_text="대본", video_path=f"posts/{pid}/short.mp4",
                        upload_meta=upload_meta))  # fmt: skip
    session.commit()
    return pid


def _upload(
    session: Session, pid: int, platform: str, state: UploadState, **fields: object
) -> None:
    fields.setdefault("requested_at", ASKED)
    session.add(Upload(post_id=pid, platform=platform, state=state, **fields))
    session.commit()


def _three_platforms(session: Session) -> tuple[int, int]:
    """One post published on YouTube, failed on TikTok, uploading to Instagram; another
    only waiting for TikTok's quota (its post stays RENDERED)."""
    meta = {"youtube": {"id": "abc", "url": "https://youtu.be/abc", "privacy": "public"}}
    mixed = _made(session, S.UPLOADED, meta)
    _upload(session, mixed, "instagram", U.UPLOADING, bytes_sent=5, total_bytes=10,
            heartbeat_at=ASKED + timedelta(minutes=1), note="resumed")  # fmt: skip
    _upload(session, mixed, "youtube", U.PUBLISHED, privacy="private",
            video_url="https://youtu.be/abc", uploaded_at=ASKED + timedelta(minutes=2))  # fmt: skip
    _upload(session, mixed, "tiktok", U.FAILED, privacy="private",
            note="spam_risk_too_many_pending_share: try later")  # fmt: skip
    waiting = _made(session, S.RENDERED)
    _upload(session, waiting, "tiktok", U.WAITING, note="daily TikTok quota: 15 of 15 used")
    return mixed, waiting


def test_each_video_carries_its_uploads_per_platform(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        mixed, waiting = _three_platforms(session)
        videos, total = gallery_page(session, 1, 10)
    assert total == 2
    by_id = {v.id: v for v in videos}
    shown = by_id[mixed].platforms
    assert list(shown) == ["youtube", "tiktok", "instagram"]  # PLATFORMS' order, not the rows'
    assert [u.state for u in shown.values()] == [U.PUBLISHED, U.FAILED, U.UPLOADING]
    assert shown["youtube"].video_url == "https://youtu.be/abc"
    # Published: the privacy YouTube answered; asked for elsewhere: the privacy asked.
    assert shown["youtube"].privacy == "public"
    assert shown["tiktok"].privacy == "private"
    assert shown["tiktok"].note == "spam_risk_too_many_pending_share: try later"
    assert (shown["instagram"].bytes_sent, shown["instagram"].total_bytes) == (5, 10)
    assert by_id[mixed].state("tiktok") is U.FAILED
    assert list(by_id[waiting].platforms) == ["tiktok"]
    assert by_id[waiting].state("youtube") is None
    assert by_id[waiting].platforms["tiktok"].note == "daily TikTok quota: 15 of 15 used"


def test_published_lists_posts_on_a_platform_with_every_platforms_upload(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        mixed, _ = _three_platforms(session)
        videos, total = published_page(session, 1, 10)
    assert (total, [v.id for v in videos]) == (1, [mixed])
    assert {p: u.state for p, u in videos[0].platforms.items()} == {
        "youtube": U.PUBLISHED, "tiktok": U.FAILED, "instagram": U.UPLOADING
    }  # fmt: skip


def test_uploads_in_flight_are_each_platforms_uploading_rows(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        mixed, _ = _three_platforms(session)
        # A PUBLISHING post whose upload a run gave back (quota) is not in flight.
        given_back = _made(session, S.PUBLISHING)
        _upload(session, given_back, "youtube", U.WAITING, note="daily YouTube quota")
        [flight] = uploads_in_flight(session)
    assert (flight.id, flight.platform, flight.bytes_sent, flight.total_bytes) == (
        mixed, "instagram", 5, 10
    )  # fmt: skip
    assert (flight.heartbeat_at, flight.note) == (ASKED + timedelta(minutes=1), "resumed")


def test_a_video_page_reads_its_uploads_in_one_query(sessions: sessionmaker[Session]) -> None:
    def queries(session: Session) -> int:
        seen: list[str] = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(session.bind, "before_cursor_execute", listener)
        try:
            gallery_page(session, 1, 20)
        finally:
            event.remove(session.bind, "before_cursor_execute", listener)
        return len(seen)

    with sessions() as session:
        _three_platforms(session)
        few = queries(session)
        for _ in range(5):
            _three_platforms(session)
        assert queries(session) == few == 3  # the count, the page, its uploads
