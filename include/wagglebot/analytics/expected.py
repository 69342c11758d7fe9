"""Expected views of a Short in its first 24 hours, learnt from the channel's own Shorts.

A ridge regression on log views over a few plain features of the post (its community, its
site score, how many communities carried its story, its length, pictures, video, the hour
it goes up), so each coefficient reads as "x1.4 views". The fitted model is stored as plain
JSON and predicts with numpy alone: the dashboard reads it without scikit-learn or pickle.
Until the channel has MIN_SHORTS Shorts the estimate falls back to the site score.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np

MIN_SHORTS = 20
MODEL = "model"
SITE_SCORE = "site score"
ALPHAS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)  # RidgeCV picks one by leave-one-out
STORY_SITES_CAP = 5  # past five communities a story is everywhere already
FALLBACK_SLOPE = 0.5  # the fallback's log views per unit of site score: a ranking, not a fit
HOLDOUT = 0.25
JSON_VERSION = 1
# Columns after the one-hot sites; _numeric builds them in this order.
NUMERIC = (
    "site_score",
    "story_sites",
    "log_text_chars",
    "log_pictures",
    "has_video",
    "hour_sin",
    "hour_cos",
)


@dataclass(frozen=True)
class ShortFeatures:
    """What is known about a post before it becomes a Short."""

    site_code: str
    site_score: float | None  # popularity within its site: a mean z-score, may be < 0
    story_sites: int  # communities its story appeared on, >= 1
    text_chars: int  # title + body
    pictures: int
    has_video: bool
    publish_hour: int  # 0-23, Korea time


@dataclass(frozen=True)
class Effect:
    """One feature's multiplicative effect on expected views, other features held."""

    key: str  # stable name for code: "site:theqoo", "site_score", "hour:21"
    label: str  # plain English for a person
    factor: float  # x expected views

    @property
    def strength(self) -> float:
        return abs(math.log(self.factor))


@dataclass(frozen=True)
class ViewsModel:
    """Expected first-day views; basis "model" (the regression) or "site score" (fallback)."""

    basis: str
    reason: str
    trained_on: int
    trained_at: str  # ISO 8601
    median_views: float = 1.0  # the history's median first-day views (the fallback's scale)
    sites: tuple[str, ...] = ()
    site_mean_scores: Mapping[str, float] = field(default_factory=dict)
    intercept: float = 0.0
    coefficients: tuple[float, ...] = ()  # per standardised column: sites, then NUMERIC
    means: tuple[float, ...] = ()
    scales: tuple[float, ...] = ()
    alpha: float | None = None
    holdout_mae_log: float | None = None  # mean |log error| on Shorts the fit did not see

    def predict(self, features: ShortFeatures) -> float:
        return self.predict_many([features])[0]

    def predict_many(self, features: Sequence[ShortFeatures]) -> list[float]:
        """Expected views in the first 24 h; never None, so they always sort."""
        if not features:
            return []
        if self.basis == SITE_SCORE:
            # Monotonic in the site score, so sorting by it is sorting by site score.
            return [
                self.median_views * math.exp(FALLBACK_SLOPE * (f.site_score or 0.0))
                for f in features
            ]
        z = (design(features, self.sites, self.site_mean_scores) - self.means) / self.scales
        log_views = self.intercept + z @ np.asarray(self.coefficients)
        return [float(v) for v in np.maximum(np.expm1(log_views), 0.0)]

    def effects(self) -> list[Effect]:
        """Each feature's effect on expected views, strongest first."""
        if self.basis == SITE_SCORE:
            return [Effect("site_score", "site score (+1)", math.exp(FALLBACK_SLOPE))]
        raw = np.asarray(self.coefficients) / np.asarray(self.scales)  # per unit of feature
        per_site = raw[: len(self.sites)]
        centre = float(per_site.mean()) if len(per_site) else 0.0  # vs the average community
        found = [
            Effect(f"site:{site}", f"community: {site}", math.exp(c - centre))
            for site, c in zip(self.sites, per_site, strict=True)
        ]
        num = dict(zip(NUMERIC, raw[len(self.sites) :], strict=True))
        found += [
            Effect("site_score", "site score (+1)", math.exp(num["site_score"])),
            Effect("story_sites", "story on one more community", math.exp(num["story_sites"])),
            Effect("text_chars", "text length (x2)", math.exp(num["log_text_chars"] * math.log(2))),
            Effect("pictures", "pictures (0 → 1)", math.exp(num["log_pictures"] * math.log(2))),
            Effect("has_video", "has a video", math.exp(num["has_video"])),
        ]
        # sin and cos average to zero over the day, so each hour's term is "vs average".
        by_hour = {
            h: num["hour_sin"] * math.sin(_angle(h)) + num["hour_cos"] * math.cos(_angle(h))
            for h in range(24)
        }
        for h in (max(by_hour, key=by_hour.get), min(by_hour, key=by_hour.get)):
            found.append(
                Effect(f"hour:{h}", f"published at {h:02d}:00 vs average", math.exp(by_hour[h]))
            )
        return sorted(found, key=lambda e: -e.strength)

    def to_json(self) -> dict:
        return {
            "version": JSON_VERSION,
            "basis": self.basis,
            "reason": self.reason,
            "trained_on": self.trained_on,
            "trained_at": self.trained_at,
            "median_views": self.median_views,
            "sites": list(self.sites),
            "site_mean_scores": dict(self.site_mean_scores),
            "intercept": self.intercept,
            "coefficients": list(self.coefficients),
            "means": list(self.means),
            "scales": list(self.scales),
            "alpha": self.alpha,
            "holdout_mae_log": self.holdout_mae_log,
        }

    @classmethod
    def from_json(cls, data: Mapping) -> ViewsModel:
        if data.get("version") != JSON_VERSION:
            raise ValueError(f"unknown expected-views model version {data.get('version')!r}")
        fields = {k: v for k, v in data.items() if k != "version"}
        for key in ("sites", "coefficients", "means", "scales"):
            fields[key] = tuple(fields[key])
        fields["site_mean_scores"] = dict(fields["site_mean_scores"])
        return cls(**fields)


def _angle(hour: int) -> float:
    return 2 * math.pi * hour / 24


def _numeric(f: ShortFeatures, site_means: Mapping[str, float]) -> list[float]:
    # A missing score is the site's typical one, not zero: zero is "average for any site".
    score = f.site_score if f.site_score is not None else site_means.get(f.site_code, 0.0)
    return [
        score,
        min(max(f.story_sites, 1), STORY_SITES_CAP) - 1,
        math.log1p(max(f.text_chars, 0)),
        math.log1p(max(f.pictures, 0)),
        float(f.has_video),
        math.sin(_angle(f.publish_hour)),
        math.cos(_angle(f.publish_hour)),
    ]


def design(
    features: Sequence[ShortFeatures], sites: Sequence[str], site_means: Mapping[str, float]
) -> np.ndarray:
    """Unscaled columns: one-hot sites (an unknown site is all zeros), then NUMERIC."""
    column = {site: i for i, site in enumerate(sites)}
    rows = np.zeros((len(features), len(sites) + len(NUMERIC)))
    for r, f in enumerate(features):
        if f.site_code in column:
            rows[r, column[f.site_code]] = 1.0
        rows[r, len(sites) :] = _numeric(f, site_means)
    return rows


def fit(history: Sequence[tuple[ShortFeatures, float]], now: datetime | None = None) -> ViewsModel:
    """The expected-views model from (features, first-day views) of published Shorts."""
    trained_at = (now or datetime.now(UTC)).isoformat()
    n = len(history)
    median = max(statistics.median(v for _, v in history), 1.0) if history else 1.0
    if n < MIN_SHORTS:
        shorts = "1 Short" if n == 1 else f"{n} Shorts"
        return ViewsModel(
            basis=SITE_SCORE,
            reason=f"{shorts} published, fewer than the {MIN_SHORTS} the model needs: "
            "ranked by site score",
            trained_on=n,
            trained_at=trained_at,
            median_views=median,
        )
    holdout = None
    train, test = split(n, HOLDOUT, seed=0)
    if len(train) >= MIN_SHORTS:
        trial = _fit_ridge([history[i] for i in train], trained_at, median)
        predicted = trial.predict_many([history[i][0] for i in test])
        holdout = _mae_log(predicted, [history[i][1] for i in test])
    model = _fit_ridge(history, trained_at, median)
    return replace(model, holdout_mae_log=holdout)


def _fit_ridge(
    history: Sequence[tuple[ShortFeatures, float]], trained_at: str, median: float
) -> ViewsModel:
    from sklearn.linear_model import RidgeCV  # only fitting needs scikit-learn

    features = [f for f, _ in history]
    sites = tuple(sorted({f.site_code for f in features}))
    scores: dict[str, list[float]] = {}
    for f in features:
        if f.site_score is not None:
            scores.setdefault(f.site_code, []).append(f.site_score)
    site_means = {site: float(np.mean(s)) for site, s in scores.items()}
    raw = design(features, sites, site_means)
    means, scales = raw.mean(axis=0), raw.std(axis=0)
    means[: len(sites)], scales[: len(sites)] = 0.0, 1.0  # one-hots stay 0/1
    scales[scales == 0] = 1.0  # a constant column (every Short had no video) adds nothing
    y = np.log1p(np.maximum([v for _, v in history], 0.0))
    ridge = RidgeCV(alphas=ALPHAS).fit((raw - means) / scales, y)
    return ViewsModel(
        basis=MODEL,
        reason=f"ridge regression on the first-day views of {len(history)} Shorts",
        trained_on=len(history),
        trained_at=trained_at,
        median_views=median,
        sites=sites,
        site_mean_scores=site_means,
        intercept=float(ridge.intercept_),
        coefficients=tuple(float(c) for c in ridge.coef_),
        means=tuple(float(m) for m in means),
        scales=tuple(float(s) for s in scales),
        alpha=float(ridge.alpha_),
    )


def split(n: int, test_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Random train and test indices; the test part has at least one Short."""
    order = np.random.default_rng(seed).permutation(n)
    n_test = min(max(round(n * test_fraction), 1), n - 1)
    return sorted(int(i) for i in order[n_test:]), sorted(int(i) for i in order[:n_test])


@dataclass(frozen=True)
class Scores:
    mae_log: float  # mean |log1p(predicted) - log1p(true)|
    median_ratio_error: float  # exp(median |log error|): half the Shorts are within x this
    spearman: float  # rank correlation of predicted and true views
    top10_recall: float  # share of the true top 10% found in the predicted top 10%


@dataclass(frozen=True)
class Evaluation:
    trained_on: int
    tested_on: int
    basis: str  # the basis fit() chose for the training part
    reason: str
    model: Scores
    baseline: Scores  # log views linear in the site score alone

    @property
    def mae_ratio(self) -> float:
        """Baseline MAE / model MAE: above 1, the model errs less."""
        return self.baseline.mae_log / self.model.mae_log


def evaluate(
    history: Sequence[tuple[ShortFeatures, float]], test_fraction: float = 0.25, seed: int = 0
) -> Evaluation:
    """fit() on a random part of the history, scored on the rest against the site score."""
    if len(history) < 2:
        raise ValueError("evaluating needs at least two Shorts")
    train_idx, test_idx = split(len(history), test_fraction, seed)
    train = [history[i] for i in train_idx]
    test = [history[i] for i in test_idx]
    truth = [v for _, v in test]
    model = fit(train)

    def score(f: ShortFeatures) -> float:
        return f.site_score if f.site_score is not None else 0.0

    # The baseline: least squares of log views on the site score (lstsq copes with a
    # history whose scores are all the same).
    a = np.array([[1.0, score(f)] for f, _ in train])
    y = np.log1p([v for _, v in train])
    (b0, b1), *_ = np.linalg.lstsq(a, y, rcond=None)
    baseline = [float(np.expm1(b0 + b1 * score(f))) for f, _ in test]
    return Evaluation(
        trained_on=len(train),
        tested_on=len(test),
        basis=model.basis,
        reason=model.reason,
        model=_scores(model.predict_many([f for f, _ in test]), truth),
        baseline=_scores(baseline, truth),
    )


def _mae_log(predicted: Sequence[float], truth: Sequence[float]) -> float:
    return float(np.mean(np.abs(np.log1p(predicted) - np.log1p(truth))))


def _scores(predicted: Sequence[float], truth: Sequence[float]) -> Scores:
    from scipy.stats import spearmanr

    p, t = np.maximum(predicted, 0.0), np.asarray(truth, dtype=float)
    errors = np.abs(np.log1p(p) - np.log1p(t))
    with warnings.catch_warnings():  # constant predictions: no ranking, rho is nan
        warnings.simplefilter("ignore")
        rho = float(spearmanr(p, t).statistic)
    k = max(1, round(len(t) * 0.1))
    top_true = set(np.argsort(-t, kind="stable")[:k].tolist())
    top_predicted = set(np.argsort(-p, kind="stable")[:k].tolist())
    return Scores(
        mae_log=float(errors.mean()),
        median_ratio_error=float(np.exp(np.median(errors))),
        spearman=rho,
        top10_recall=len(top_true & top_predicted) / k,
    )
