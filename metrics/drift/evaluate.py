"""Run one drift report with evidently: per-feature ValueDrift tests, HTML and JSON saved.

evidently (about 3 s to import) is imported here, inside the function, so nothing on the
controller's or the CLI's start-up path pays for it. Features without enough data are left out of
the evidently run and reported as not_enough_data; a report with no judged feature does not import
evidently at all.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from metrics.drift.features import CATEGORICAL, Feature, FeatureSample, GroupKey, Value
from metrics.drift.policy import DriftPolicy
from metrics.drift.report import DriftReport, FeatureResult, Status, Window, summary, verdict

log = logging.getLogger(__name__)


def _sampled(values: Sequence[Value], limit: int, rng: random.Random) -> list[Value]:
    return list(values) if len(values) <= limit else rng.sample(list(values), limit)


def report_paths(out_dir: Path, key: GroupKey, created_at: float) -> tuple[Path, Path]:
    """<out>/<namespace>/<deployment>/<model>/<UTC time, ms>.html and .json (model made path-safe)."""
    model = re.sub(r"[^A-Za-z0-9._-]+", "_", key.model) or "_"
    moment = datetime.fromtimestamp(created_at, UTC)
    # Milliseconds, and a counter on a clash: two reports in one second must not overwrite.
    stamp = moment.strftime("%Y%m%dT%H%M%S") + f"{moment.microsecond // 1000:03d}Z"
    folder = out_dir / key.namespace / key.deployment / model
    name, n = stamp, 1
    while (folder / f"{name}.html").exists() or (folder / f"{name}.json").exists():
        n += 1
        name = f"{stamp}-{n}"
    return folder / f"{name}.html", folder / f"{name}.json"


def run_report(
    key: GroupKey,
    reference: FeatureSample,
    current: FeatureSample,
    policy: DriftPolicy,
    windows: tuple[Window, Window],
    created_at: float,
    out_dir: Path | None = None,
) -> DriftReport:
    rng = random.Random(policy.seed)
    ref_values: dict[Feature, list[Value]] = {}
    cur_values: dict[Feature, list[Value]] = {}
    pending: list[FeatureResult] = []
    for feature in sorted(set(reference.values) | set(current.values), key=lambda f: list(Feature).index(f)):
        test = policy.test_for(feature)
        n_ref, n_cur = reference.count(feature), current.count(feature)
        if policy.enough(n_ref, n_cur):
            ref_values[feature] = _sampled(reference.values[feature], policy.max_values, rng)
            cur_values[feature] = _sampled(current.values[feature], policy.max_values, rng)
            status = Status.OK
        else:
            status = Status.NOT_ENOUGH_DATA
        pending.append(FeatureResult(feature, status, n_ref, n_cur, test.method, test.threshold))

    html_path: Path | None = None
    message = ""
    results = pending
    if ref_values:
        try:
            scores, html = _evidently(ref_values, cur_values, policy)
        except Exception as exc:  # evidently raises many kinds; the report must still say it failed
            log.warning("drift report %s failed: %s", key, exc)
            return _finish(key, pending, Status.FAILED, None, windows, created_at, out_dir, None, f"evidently: {exc}")
        results = [
            FeatureResult(r.feature, r.status, r.n_reference, r.n_current, r.method, r.threshold, *scores[r.feature])
            if r.feature in scores
            else r
            for r in pending
        ]
        if out_dir is not None:
            html_path, _ = report_paths(out_dir, key, created_at)
            html_path.parent.mkdir(parents=True, exist_ok=True)
            html(str(html_path))  # evidently ignores a Path (it only writes for str)
    else:
        message = (
            f"not enough data: every feature needs >= {policy.min_reference} reference and >= "
            f"{policy.min_current} current values"
        )
    status, detected = verdict(results)
    return _finish(key, results, status, detected, windows, created_at, out_dir, html_path, message)


def _finish(
    key: GroupKey,
    results: Sequence[FeatureResult],
    status: Status,
    detected: bool | None,
    windows: tuple[Window, Window],
    created_at: float,
    out_dir: Path | None,
    html_path: Path | None,
    message: str,
) -> DriftReport:
    report = DriftReport(
        key, status, detected, tuple(results), windows[0], windows[1], created_at,
        str(html_path) if html_path else None, message,
    )  # fmt: skip
    if out_dir is not None:
        # Beside its HTML when there is one: asking for fresh paths now would see the HTML as a clash.
        json_path = (
            html_path.with_name(f"{html_path.stem}.json") if html_path else report_paths(out_dir, key, created_at)[1]
        )
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(summary(report), indent=2, allow_nan=False) + "\n")
    return report


def _evidently(
    ref_values: dict[Feature, list[Value]], cur_values: dict[Feature, list[Value]], policy: DriftPolicy
) -> tuple[dict[Feature, tuple[float | None, bool | None]], Any]:
    """Scores and drift flags per feature, and a callable that saves the HTML."""
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    features = list(ref_values)
    numeric = [f.value for f in features if f not in CATEGORICAL]
    categorical = [f.value for f in features if f in CATEGORICAL]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)

    def frame(values: dict[Feature, list[Value]]) -> Any:
        # Columns have their own lengths; pandas pads with NaN, which evidently drops per column.
        return pd.DataFrame(
            {f.value: pd.Series(v, dtype=object if f in CATEGORICAL else float) for f, v in values.items()}
        )

    metrics = [
        ValueDrift(column=f.value, method=policy.test_for(f).method, threshold=policy.test_for(f).threshold)
        for f in features
    ]
    snapshot = Report(metrics, include_tests=True).run(
        current_data=Dataset.from_pandas(frame(cur_values), data_definition=definition),
        reference_data=Dataset.from_pandas(frame(ref_values), data_definition=definition),
    )
    raw = snapshot.dict()
    scores: dict[str, float | None] = {}
    for metric in raw.get("metrics", []):
        column = metric.get("config", {}).get("column")
        value = metric.get("value")
        if column is not None and isinstance(value, int | float) and math.isfinite(value):
            scores[column] = float(value)
    # Drift is the test status, never our own comparison: the direction depends on the method
    # (distances drift above the threshold, p-values below it).
    drifted: dict[str, bool] = {}
    for test in raw.get("tests", []):
        column = test.get("metric_config", {}).get("params", {}).get("column")
        status = str(test.get("status", ""))
        if column is not None:
            drifted[column] = status.endswith("FAIL")
    out = {f: (scores.get(f.value), drifted.get(f.value)) for f in features}
    return out, snapshot.save_html
