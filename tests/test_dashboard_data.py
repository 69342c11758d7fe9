"""The dashboard's queries and the per-site popularity score, on the real MariaDB."""

from __future__ import annotations

import math
from datetime import date, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from wagglebot.core.db.models import Post
from wagglebot.crawl.store import refresh_scores
from wagglebot.review.queries import InboxFilter, inbox_page

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
