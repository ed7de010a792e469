"""Drift verdicts on real traces through evidently: same trace, shifted trace, sparse data."""

from __future__ import annotations

import functools
import json
import random
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from metrics.drift.evaluate import run_report
from metrics.drift.exporter import DriftMetrics
from metrics.drift.features import Feature, FeatureSample, GroupKey, features_from_records
from metrics.drift.policy import DriftPolicy, FeatureTest
from metrics.drift.report import Status, Window
from metrics.drift.trace_records import records_from_rows, trace_rows
from serving.stack.shared_data import traces_dir

TRACES = traces_dir()
CONV, CODE = TRACES / "azure2023_conv.csv", TRACES / "azure2023_code.csv"
KEY = GroupKey("ns", "chat", "llama")
WINDOWS = (Window(0, 1, "records"), Window(1, 2, "records"))


@functools.cache
def rows_of(path: Path) -> list[tuple[float, int, int]]:
    return list(trace_rows(path))


def sample(path: Path, n: int, seed: int, exclude: set[int] | None = None) -> tuple[FeatureSample, set[int]]:
    rows = rows_of(path)
    rng = random.Random(seed)
    pool = [i for i in range(len(rows)) if not exclude or i not in exclude]
    chosen = set(rng.sample(pool, n))
    records = records_from_rows(
        (rows[i] for i in sorted(chosen)), start_ts=0, namespace="ns", deployment="chat", model="llama", seed=seed
    )
    return features_from_records(records)[KEY], chosen


def test_two_samples_of_the_same_trace_do_not_drift(tmp_path: Path) -> None:
    reference, used = sample(CONV, 5000, 1)
    current, _ = sample(CONV, 1000, 2, exclude=used)
    report = run_report(KEY, reference, current, DriftPolicy(), WINDOWS, 1.0, tmp_path)
    scores = {f.feature: f.score for f in report.features}
    print(json.dumps({f.value: s for f, s in scores.items()}))
    assert report.status is Status.OK and report.detected is False
    assert {f.feature for f in report.features if f.status is Status.OK} == set(Feature)
    assert report.html_path is not None and Path(report.html_path).stat().st_size > 100_000
    saved = json.loads(Path(report.html_path).with_suffix(".json").read_text())
    assert saved["drift_detected"] is False and saved["status"] == "ok"


def test_code_traffic_against_conversation_traffic_drifts() -> None:
    reference, _ = sample(CONV, 5000, 1)
    current, _ = sample(CODE, 1000, 3)
    report = run_report(KEY, reference, current, DriftPolicy(), WINDOWS, 1.0)
    print(json.dumps({f.feature.value: f.score for f in report.features}))
    assert report.status is Status.OK and report.detected is True
    assert {Feature.PROMPT_TOKENS, Feature.OUTPUT_TOKENS, Feature.TTFT} <= set(report.drifted_features)
    assert Feature.ITL not in report.drifted_features  # same engine, same decode speed


def test_no_false_alarm_at_the_minimum_sample_sizes() -> None:
    """Twenty random splits of one trace at exactly the minimums: never drift."""
    policy = DriftPolicy()
    worst = 0.0
    for seed in range(20):
        reference, used = sample(CONV, policy.min_reference, 100 + seed)
        current, _ = sample(CONV, policy.min_current, 200 + seed, exclude=used)
        report = run_report(KEY, reference, current, policy, WINDOWS, 1.0)
        assert report.detected is False, [(f.feature.value, f.score) for f in report.features]
        worst = max(worst, *(f.score or 0.0 for f in report.features))
    print(f"worst null PSI at the minimums: {worst:.3f}")


@pytest.mark.parametrize(("n_reference", "n_current"), [(5000, 300), (500, 5000), (40, 10), (0, 0)])
def test_sparse_data_is_not_enough_data_never_an_alarm(n_reference: int, n_current: int) -> None:
    """Even a shifted current window (code traffic) gives no verdict when it is too small."""
    reference = sample(CONV, n_reference, 1)[0] if n_reference else FeatureSample()
    current = sample(CODE, n_current, 3)[0] if n_current else FeatureSample()
    report = run_report(KEY, reference, current, DriftPolicy(), WINDOWS, 1.0)
    assert report.status is Status.NOT_ENOUGH_DATA and report.detected is None
    assert all(f.score is None and f.drifted is None for f in report.features)
    assert "not enough data" in report.message


def test_partial_data_judges_only_the_features_that_have_enough() -> None:
    reference, used = sample(CONV, 3000, 1)
    current, _ = sample(CONV, 800, 2, exclude=used)
    thin = FeatureSample({**current.values, Feature.TTFT: current.values[Feature.TTFT][:50]}, "records", 800)
    report = run_report(KEY, reference, thin, DriftPolicy(), WINDOWS, 1.0)
    by_feature = {f.feature: f for f in report.features}
    assert report.status is Status.OK and report.detected is False
    assert by_feature[Feature.TTFT].status is Status.NOT_ENOUGH_DATA and by_feature[Feature.TTFT].score is None


def test_metrics_say_nothing_without_a_verdict() -> None:
    registry = CollectorRegistry()
    metrics = DriftMetrics(registry)
    reference, _ = sample(CONV, 3000, 1)
    current, _ = sample(CODE, 800, 3)
    drifted = run_report(KEY, reference, current, DriftPolicy(), WINDOWS, 100.0)
    sparse_key = GroupKey("ns", "quiet", "llama")
    sparse = run_report(sparse_key, reference, FeatureSample(), DriftPolicy(), WINDOWS, 100.0)
    metrics.publish([drifted, sparse])
    text = generate_latest(registry).decode()
    assert 'tokenscale_drift_detected{deployment="chat",model_name="llama",namespace="ns"} 1.0' in text
    assert 'deployment="quiet"' not in "\n".join(
        line for line in text.splitlines() if line.startswith(("tokenscale_drift_detected", "tokenscale_drift_score"))
    )
    assert (
        'tokenscale_drift_last_run_timestamp_seconds{deployment="quiet",model_name="llama",namespace="ns",status="not_enough_data"} 100.0'
        in text
    )
    assert 'feature="prompt_tokens"' in text


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="method"):
        FeatureTest("wasserstein_typo")
    with pytest.raises(ValueError, match="max_values"):
        DriftPolicy(min_reference=100, max_values=10)
