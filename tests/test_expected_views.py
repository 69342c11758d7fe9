"""The expected-views model and the publishing hours, on synthetic channel histories
(no database): the site-score fallback, beating the site score, JSON round trips,
explanations that name the generator's real effects, the best evening hours."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from wagglebot_stack.synthetic_channel import (
    HOUR_EFFECTS,
    SITE_EFFECTS,
    VIDEO_ID_CHARS,
    synthetic_history,
    views_24h,
)

from wagglebot.analytics.expected import (
    MIN_SHORTS,
    MODEL,
    SITE_SCORE,
    ShortFeatures,
    ViewsModel,
    evaluate,
    fit,
)
from wagglebot.analytics.schedule import best_hours

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


def history(n: int, seed: int = 0) -> list[tuple[ShortFeatures, float]]:
    return [(s.features, views_24h(s)) for s in synthetic_history(n, seed=seed)]


@pytest.fixture(scope="module")
def model() -> ViewsModel:
    return fit(history(1000), now=NOW)


def test_fallback_under_min_shorts_ranks_by_site_score() -> None:
    shorts = history(MIN_SHORTS - 8)
    fallback = fit(shorts, now=NOW)
    assert fallback.basis == SITE_SCORE
    assert fallback.reason == (
        "12 Shorts published, fewer than the 20 the model needs: ranked by site score"
    )
    candidates = [f for f, _ in history(50, seed=3)]
    predicted = fallback.predict_many(candidates)
    assert all(isinstance(p, float) and p > 0 for p in predicted)
    by_prediction = sorted(range(50), key=lambda i: predicted[i])
    by_score = sorted(range(50), key=lambda i: candidates[i].site_score or 0.0)
    assert [candidates[i].site_score or 0.0 for i in by_prediction] == [
        candidates[i].site_score or 0.0 for i in by_score
    ]
    # No history at all still ranks.
    empty = fit([], now=NOW)
    assert empty.basis == SITE_SCORE
    assert empty.reason.startswith("0 Shorts published")
    assert empty.predict(candidates[0]) > 0
    assert fit(shorts + history(8, seed=1), now=NOW).basis == MODEL


def test_model_beats_site_score_on_held_out_shorts() -> None:
    result = evaluate(history(400), test_fraction=0.25, seed=0)
    assert result.basis == MODEL
    assert (result.trained_on, result.tested_on) == (300, 100)
    assert result.model.mae_log < result.baseline.mae_log
    assert result.model.spearman > result.baseline.spearman
    assert result.mae_ratio > 1.1
    assert result.model.top10_recall >= result.baseline.top10_recall


def test_json_round_trip_predicts_identically(model: ViewsModel) -> None:
    candidates = [f for f, _ in history(200, seed=7)]
    candidates.append(ShortFeatures("nate_pann", None, 2, 500, 0, False, 21))  # no score
    data = json.loads(json.dumps(model.to_json()))
    again = ViewsModel.from_json(data)
    assert again == model
    assert again.predict_many(candidates) == model.predict_many(candidates)
    assert again.trained_at == NOW.isoformat()
    assert again.trained_on == 1000
    assert again.holdout_mae_log is not None
    assert 0.3 < again.holdout_mae_log < 0.7
    fallback = fit(history(5), now=NOW)
    back = ViewsModel.from_json(json.loads(json.dumps(fallback.to_json())))
    assert back.predict_many(candidates) == fallback.predict_many(candidates)


def test_effects_name_the_generators_real_effects(model: ViewsModel) -> None:
    effects = model.effects()
    assert [e.strength for e in effects] == sorted((e.strength for e in effects), reverse=True)
    communities = [e for e in effects if e.key.startswith("site:")]
    best_site = max(SITE_EFFECTS, key=SITE_EFFECTS.__getitem__)
    worst_site = min(SITE_EFFECTS, key=SITE_EFFECTS.__getitem__)
    assert effects[0].label == f"community: {best_site}"
    assert max(communities, key=lambda e: e.factor).label == "community: nate_pann"
    assert min(communities, key=lambda e: e.factor).label == f"community: {worst_site}"
    factor = {e.key: e.factor for e in effects}
    assert factor["site_score"] > 1.2
    assert factor["story_sites"] > 1.1
    assert factor["has_video"] > 1
    assert factor["pictures"] > 1
    assert factor["text_chars"] < 1
    hours = [e for e in effects if e.key.startswith("hour:")]
    assert len(hours) == 2
    best, worst = sorted(hours, key=lambda e: -e.factor)
    assert 18 <= int(best.key.split(":")[1]) <= 23
    assert best.label == f"published at {best.key.split(':')[1].zfill(2)}:00 vs average"
    assert worst.factor < 1


def test_unknown_site_predicts_between_known_ones(model: ViewsModel) -> None:
    def short(site: str) -> ShortFeatures:
        return ShortFeatures(site, 0.5, 1, 600, 1, False, 20)

    unknown = model.predict(short("instiz"))
    assert model.predict(short("clien")) < unknown < model.predict(short("nate_pann"))
    # A missing site score is the site's mean one, not a failure.
    assert model.predict(ShortFeatures("instiz", None, 1, 600, 1, False, 20)) > 0


def test_best_hours_are_the_generators_evenings() -> None:
    shorts = synthetic_history(2000, seed=4)
    hours = best_hours([(s.features.publish_hour, views_24h(s)) for s in shorts])
    assert len(hours) == 3
    assert all(18 <= h <= 23 for h in hours)
    assert HOUR_EFFECTS.index(max(HOUR_EFFECTS)) in best_hours(
        [(s.features.publish_hour, views_24h(s)) for s in shorts], n=5
    )
    # Hours with too few Shorts do not count; fewer qualifying hours give fewer answers.
    assert best_hours([(21, 9000.0), (21, 8000.0), (9, 10.0), (9, 20.0), (9, 30.0)]) == [9]
    assert best_hours([(3, 5.0)], min_shorts=1) == [3]
    assert best_hours([]) == []


def test_synthetic_history_is_deterministic_and_plausible() -> None:
    a, b = synthetic_history(60, seed=5), synthetic_history(60, seed=5)
    assert a == b
    assert synthetic_history(60, seed=6) != a
    assert [s.uploaded_at for s in a] == sorted(s.uploaded_at for s in a)
    assert {s.features.site_code for s in synthetic_history(400)} == set(SITE_EFFECTS)
    for s in a:
        assert s.uploaded_at.tzinfo == UTC
        assert (s.uploaded_at.hour + 9) % 24 == s.features.publish_hour
        assert len(s.video_id) == 11
        assert set(s.video_id) <= set(VIDEO_ID_CHARS)
        assert len(s.days) == 30
        assert views_24h(s) == s.days[0]["views"]
        assert s.features.story_sites >= 1
        for day in s.days:
            for key, value in day.items():
                expected = float if key.startswith("average") else int
                assert isinstance(value, expected), key
            assert day["likes"] <= day["views"]
    assert fit(history(100, seed=5), now=NOW) == fit(history(100, seed=5), now=NOW)
