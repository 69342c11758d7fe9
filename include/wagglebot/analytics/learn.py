"""The expected-views model in the database: retrained once a day from the channel's own
Shorts, and every post waiting for review scored with it (``posts.expected_views``),
so the Inbox can show and sort by it.

A post is scored as if published at the channel's best hour (analytics.schedule): the
hour is the one feature a reviewer does not choose by approving.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from wagglebot.analytics.expected import ShortFeatures, ViewsModel, fit
from wagglebot.analytics.history import FEATURE_COLUMNS, published_shorts
from wagglebot.analytics.schedule import publishing_hours
from wagglebot.core.config import Settings, get_settings
from wagglebot.core.db import settings_session
from wagglebot.core.db.models import Post, Story, ViewModel, utcnow
from wagglebot.core.statuses import PostStatus

log = logging.getLogger(__name__)

RETRAIN_AFTER = timedelta(hours=23)  # "daily", with slack for an hourly DAG
CHUNK = 2000


def training_history(session: Session, timezone: str) -> list[tuple[ShortFeatures, float]]:
    """Each published Short whose first 24 h are known, as (features, views in them)."""
    return [
        (
            ShortFeatures(
                s.site_code,
                s.site_score,
                s.story_sites,
                s.text_chars,
                s.pictures,
                s.has_video,
                s.local(timezone).hour,
            ),
            float(s.views_24h),
        )
        for s in published_shorts(session)
        if s.views_24h is not None
    ]


def current_model(session: Session) -> tuple[ViewModel | None, ViewsModel | None]:
    row = session.scalars(select(ViewModel).order_by(ViewModel.id.desc()).limit(1)).first()
    return row, (ViewsModel.from_json(row.model) if row else None)


def learn(
    settings: Settings | None = None, now: datetime | None = None, force: bool = False
) -> dict:
    """Retrain when the model is a day old (or ``force``), then score the waiting posts:
    all of them after a retraining, else those not scored yet."""
    settings = settings or get_settings()
    now = now or utcnow()
    with settings_session(settings) as session:
        row, model = current_model(session)
        retrain = force or row is None or row.trained_at <= now - RETRAIN_AFTER
        if retrain:
            history = training_history(session, settings.timezone)
            model = fit(history, now=now)
            session.add(
                ViewModel(
                    trained_at=now,
                    basis=model.basis,
                    shorts=model.trained_on,
                    reason=model.reason,
                    model=model.to_json(),
                )
            )
            session.commit()
            log.info("expected views: %s (%s)", model.basis, model.reason)
        hour = publishing_hours(session, settings).best
        scored = score_posts(session, model, hour, everything=retrain)
    return {
        "retrained": retrain,
        "basis": model.basis,
        "reason": model.reason,
        "shorts": model.trained_on,
        "scored": scored,
        "hour": hour,
    }


def _waiting(session: Session, everything: bool) -> Iterator[list]:
    """The waiting posts' features, a chunk at a time, by id."""
    last = 0
    while True:
        stmt = (
            select(Post.id, *FEATURE_COLUMNS)
            .outerjoin(Story, Story.id == Post.story_id)
            .where(Post.status == PostStatus.COLLECTED, Post.id > last)
            .order_by(Post.id)
            .limit(CHUNK)
        )
        if not everything:
            stmt = stmt.where(Post.expected_views.is_(None))
        rows = session.execute(stmt).all()
        if not rows:
            return
        last = rows[-1].id
        yield rows


def score_posts(session: Session, model: ViewsModel, hour: int, everything: bool) -> int:
    """Write each waiting post's expected views; how many were scored. Commits per chunk."""
    scored = 0
    write = (
        update(Post)
        .where(Post.id == bindparam("pid"))
        .values(expected_views=bindparam("estimate"))
        .execution_options(synchronize_session=False)
    )
    for rows in _waiting(session, everything):
        features = [
            ShortFeatures(
                r.site_code,
                r.score,
                int(r.story_sites),
                int(r.chars),
                int(r.image_count or 0),
                bool(r.has_video),
                hour,
            )
            for r in rows
        ]
        views = model.predict_many(features)
        session.connection().execute(
            write, [{"pid": r.id, "estimate": v} for r, v in zip(rows, views, strict=True)]
        )
        session.commit()
        scored += len(rows)
    return scored
