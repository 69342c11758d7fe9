"""Benchmark: the expected-views model against ranking by site score, on synthetic channels.

    .venv/bin/python bench/expected_views/run.py [--sizes 400 60 15] [--seeds 10]

Each size is a channel history from wagglebot_stack.synthetic_channel (known effects of
community, site score, reach, pictures, video, text length and hour, log-normal noise with
sigma 0.6), split at random 75/25 by wagglebot.analytics.expected.evaluate:

- model: fit() on the 75% (a ridge regression; below 20 Shorts its site-score fallback,
  as the 15-Short history shows), scored on the 25%;
- baseline: log views linear in the site score alone, fitted on the same 75%.

Scores on the held-out Shorts: mean |log error| (MAE), the median ratio error
(exp(median |log error|): half the Shorts are within that factor), Spearman rank
correlation, and the share of the true top 10% found in the predicted top 10%. A small
test split is noisy, so each size is averaged over --seeds histories and splits.
Prints the table and the 400-Short model's effects; writes bench/results/expected_views.json.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from dataclasses import asdict
from pathlib import Path

from wagglebot_stack.synthetic_channel import synthetic_history, views_24h

from wagglebot.analytics.expected import Evaluation, evaluate, fit

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results"
METRICS = ("mae_log", "median_ratio_error", "spearman", "top10_recall")


def mean(values: list[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]  # Spearman of constant predictions
    return statistics.fmean(kept) if kept else math.nan


def summary(runs: list[Evaluation]) -> dict:
    out: dict = {"basis": sorted({r.basis for r in runs}), "tested_on": runs[0].tested_on}
    for side in ("model", "baseline"):
        out[side] = {
            m: round(mean([getattr(getattr(r, side), m) for r in runs]), 3) for m in METRICS
        }
    ratios = [r.mae_ratio for r in runs]
    out["mae_ratio"] = round(mean(ratios), 3)
    out["mae_ratio_range"] = [round(min(ratios), 3), round(max(ratios), 3)]
    out["model_better_mae"] = sum(r.model.mae_log < r.baseline.mae_log for r in runs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[400, 60, 15])
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()

    result: dict = {"seeds": args.seeds, "sizes": {}}
    header = (
        f"{'Shorts':>6} {'basis':<10} {'':<9} {'MAE(log)':>8} {'median x':>8} "
        f"{'Spearman':>8} {'top10%':>6} {'base/model MAE':>15}"
    )
    lines = [header, "-" * len(header)]
    for n in args.sizes:
        runs = []
        for seed in range(args.seeds):
            history = [(s.features, views_24h(s)) for s in synthetic_history(n, seed=seed)]
            runs.append(evaluate(history, seed=seed))
        s = summary(runs)
        s["reason"] = runs[0].reason
        result["sizes"][n] = s
        basis = "/".join(s["basis"])
        for side in ("model", "baseline"):
            m = s[side]
            ratio = f"{s['mae_ratio']:.2f}" if side == "model" else ""
            lines.append(
                f"{n if side == 'model' else '':>6} {basis if side == 'model' else '':<10} "
                f"{side:<9} {m['mae_log']:>8.3f} {m['median_ratio_error']:>8.2f} "
                f"{m['spearman']:>8.3f} {m['top10_recall']:>6.2f} {ratio:>15}"
            )

    history = [(s.features, views_24h(s)) for s in synthetic_history(400, seed=0)]
    t = time.perf_counter()
    model = fit(history)
    result["fit_ms_400"] = round((time.perf_counter() - t) * 1000, 1)
    result["effects_400"] = [asdict(e) | {"factor": round(e.factor, 3)} for e in model.effects()]
    print(f"mean over {args.seeds} synthetic histories and splits (75% fit, 25% scored)")
    print("\n".join(lines))
    for n, s in result["sizes"].items():
        print(
            f"{n} Shorts: {s['reason']}; model MAE lower in {s['model_better_mae']}"
            f"/{args.seeds}, ratio {s['mae_ratio_range'][0]}-{s['mae_ratio_range'][1]}"
        )
    print(f"\n400-Short model (alpha {model.alpha}, fitted in {result['fit_ms_400']} ms):")
    for e in model.effects():
        print(f"  x{e.factor:5.2f}  {e.label}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "expected_views.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
