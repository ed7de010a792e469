"""A PNG summary of drift reports: the score of every feature against its threshold, and the
reference and current distributions of the first report's features."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from metrics.drift.features import CATEGORICAL, NUMERIC, Feature, FeatureSample, GroupKey
from metrics.drift.report import DriftReport, Status

FLOOR = 0.003
LOG_X = {Feature.PROMPT_TOKENS, Feature.OUTPUT_TOKENS, Feature.TTFT, Feature.ITL}


def plot_drift(
    reports: Sequence[DriftReport], samples: Mapping[GroupKey, tuple[FeatureSample, FeatureSample]], path: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = reports[0]
    ref, cur = samples.get(first.key, (FeatureSample(), FeatureSample()))
    shown = [f for f in (*NUMERIC, *CATEGORICAL) if ref.count(f) or cur.count(f)]
    cols = 3
    rows = 1 + math.ceil(len(shown) / cols)
    fig = plt.figure(figsize=(13, 3.6 * rows), constrained_layout=True)
    grid = fig.add_gridspec(rows, cols)
    scores = fig.add_subplot(grid[0, :])
    _scores(scores, reports)
    for i, feature in enumerate(shown):
        ax = fig.add_subplot(grid[1 + i // cols, i % cols])
        result = next((r for r in first.features if r.feature is feature), None)
        _distribution(ax, feature, ref, cur)
        verdict = "not enough data"
        if result is not None and result.status is Status.OK and result.score is not None:
            verdict = f"{result.method} {result.score:.2f} {'DRIFT' if result.drifted else 'ok'}"
        ax.set_title(
            f"{feature.value}: {verdict}", fontsize="medium", color="red" if result and result.drifted else "black"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _scores(ax: Any, reports: Sequence[DriftReport]) -> None:
    labels: list[str] = []
    values: list[float] = []
    colors: list[str] = []
    thresholds: list[float] = []
    for report in reports:
        for f in report.features:
            tag = f"{report.key.deployment}\n{f.feature.value}" if len(reports) > 1 else f.feature.value
            labels.append(tag)
            judged = f.status is Status.OK and f.score is not None
            # Log axis: a feature without a verdict gets a stub bar at the floor.
            values.append(max(FLOOR, float(f.score)) if judged and f.score is not None else FLOOR)
            colors.append("tab:red" if f.drifted else ("tab:green" if judged else "lightgrey"))
            thresholds.append(f.threshold)
    positions = list(range(len(labels)))
    ax.bar(positions, values, color=colors)
    for x, (value, color) in enumerate(zip(values, colors, strict=True)):
        text = "not enough data" if color == "lightgrey" else f"{value:.2f}"
        ax.text(x, value * 1.1, text, ha="center", va="bottom", fontsize="small")
    if thresholds:
        ax.axhline(max(set(thresholds), key=thresholds.count), color="black", linestyle="--", linewidth=1)
    ax.set_xticks(positions, labels, fontsize="small")
    ax.set_yscale("log")
    ax.set_ylim(FLOOR, max([*values, *thresholds]) * 4)
    ax.set_ylabel("score (log)")
    names = ", ".join(str(r.key) for r in reports)
    detected = [r for r in reports if r.detected]
    state = "DRIFT in " + ", ".join(r.key.deployment for r in detected) if detected else "no drift"
    ax.set_title(f"drift score per feature (dashed: threshold) - {names}: {state}")


def _distribution(ax: Any, feature: Feature, ref: FeatureSample, cur: FeatureSample) -> None:
    if feature in CATEGORICAL:
        rc, cc = Counter(ref.values.get(feature, ())), Counter(cur.values.get(feature, ()))
        cats = sorted(set(rc) | set(cc), key=str)
        n_r, n_c = max(1, sum(rc.values())), max(1, sum(cc.values()))
        xs = range(len(cats))
        ax.bar([x - 0.2 for x in xs], [rc[c] / n_r for c in cats], 0.4, label=f"reference ({n_r})")
        ax.bar([x + 0.2 for x in xs], [cc[c] / n_c for c in cats], 0.4, label=f"current ({n_c})")
        ax.set_xticks(list(xs), [str(c) for c in cats])
    else:
        r = [float(v) for v in ref.values.get(feature, ())]
        c = [float(v) for v in cur.values.get(feature, ())]
        log_x = feature in LOG_X and min(r + c, default=0.0) > 0
        bins: object = 40
        if log_x:
            lo, hi = min(r + c), max(r + c)
            bins = [lo * (hi / lo) ** (i / 40) for i in range(41)] if hi > lo else 40
            ax.set_xscale("log")
        # Share of requests per bin (not a density): honest bar heights on log-spaced bins.
        if r:
            ax.hist(r, bins=bins, weights=[1 / len(r)] * len(r), alpha=0.5, label=f"reference ({len(r)})")
        if c:
            ax.hist(c, bins=bins, weights=[1 / len(c)] * len(c), alpha=0.5, label=f"current ({len(c)})")
        ax.set_ylabel("share of requests", fontsize="small")
    ax.legend(fontsize="small")
