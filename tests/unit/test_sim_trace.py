"""Trace loading for the fleet simulator: per-request CSV, rate multipliers, ServeGen rate windows."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from scaler.sim.servegen import RateWindow, load_servegen, parse_clients, weibull_shape_for_cv, window_arrivals
from scaler.sim.trace import Trace, TraceError, load_request_csv, multiply


def write_csv(
    path: Path, rows: list[tuple[float, int, int]], header: str = "arrival_s,input_tokens,output_tokens"
) -> Path:
    path.write_text(header + "\n" + "".join(f"{a},{i},{o}\n" for a, i, o in rows))
    return path


def test_csv_is_read_sorted_and_shifted_to_zero(tmp_path: Path) -> None:
    trace = load_request_csv(write_csv(tmp_path / "t.csv", [(12.5, 100, 10), (10.0, 50, 5), (11.0, 70, 7)]))
    assert trace.name == "t"
    assert trace.arrival_s.tolist() == [0.0, 1.0, 2.5]
    assert trace.input_tokens.tolist() == [50, 70, 100]
    assert trace.output_tokens.tolist() == [5, 7, 10]
    assert trace.deployments == ("t",)
    assert trace.duration_s == 3.0


def test_csv_errors_name_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="header must be"):
        load_request_csv(write_csv(tmp_path / "h.csv", [(0, 1, 1)], header="t,in,out"))
    bad = tmp_path / "bad.csv"
    bad.write_text("arrival_s,input_tokens,output_tokens\n0,10,5\n1,ten,5\n")
    with pytest.raises(TraceError, match=r"bad.csv:3"):
        load_request_csv(bad)
    with pytest.raises(TraceError, match="no requests"):
        load_request_csv(write_csv(tmp_path / "empty.csv", []))


def synthetic(n: int = 2000, gap: float = 0.5) -> Trace:
    arrival = np.arange(n, dtype=np.float64) * gap
    arrival[n // 2 :] += 300.0  # a 300 s idle gap in the middle
    return Trace("s", arrival, np.full(n, 100), np.full(n, 10), np.zeros(n, dtype=np.int64), ("s",), float(arrival[-1]))


def test_multiplier_scales_the_count_and_keeps_the_idle_gap_and_duration() -> None:
    base = synthetic()
    for factor in (0.5, 2.0, 3.5, 10.0):
        scaled = multiply(base, factor, seed=1)
        assert len(scaled) == pytest.approx(factor * len(base), rel=0.1)
        assert base.duration_s <= scaled.duration_s <= base.duration_s + 1.0
        gap = (scaled.arrival_s > 999.5 * 0.5 + 1.0) & (scaled.arrival_s < 1000 * 0.5 + 300.0)
        assert not gap.any(), "copies must not fill the idle gap"
        assert np.all(np.diff(scaled.arrival_s) >= 0)


def test_multiplier_is_deterministic_for_a_seed() -> None:
    base = synthetic(300)
    a, b, c = multiply(base, 2.5, 7), multiply(base, 2.5, 7), multiply(base, 2.5, 8)
    assert np.array_equal(a.arrival_s, b.arrival_s)
    assert not np.array_equal(a.arrival_s, c.arrival_s)


@pytest.mark.parametrize("cv", [0.3, 1.0, 3.0, 10.0])
def test_weibull_shape_matches_the_requested_cv(cv: float) -> None:
    k = weibull_shape_for_cv(cv)
    mean = math.gamma(1 + 1 / k)
    var = math.gamma(1 + 2 / k) - mean**2
    assert math.sqrt(var) / mean == pytest.approx(cv, rel=1e-3)


@pytest.mark.parametrize("pattern", ["Gamma", "Weibull"])
def test_window_arrivals_follow_rate_and_cv(pattern: str) -> None:
    rng = np.random.default_rng(3)
    gaps: list[float] = []
    counts = []
    for start in range(0, 600 * 40, 600):
        times = window_arrivals(rng, RateWindow(float(start), 2.0, 2.0, pattern), 1.0)
        assert np.all((times >= start) & (times < start + 600))
        counts.append(len(times))
        gaps.extend(np.diff(times))
    assert np.mean(counts) == pytest.approx(1200, rel=0.1)
    assert np.std(gaps) / np.mean(gaps) == pytest.approx(2.0, rel=0.2)


def servegen_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "sg"
    directory.mkdir(exist_ok=True)
    (directory / "chunk-0-trace.csv").write_text("0,1.0,1.0,Gamma,1,1\n600,0,0,,0,0\n1200,0.5,2.0,Weibull,0.5,1\n")
    (directory / "chunk-7-trace.csv").write_text("0,0,0,,0,0\n600,0.2,1.0,Gamma,1,5\n1200,0,0,,0,0\n")
    return directory


def test_servegen_clients_become_deployments_with_borrowed_token_lengths(tmp_path: Path) -> None:
    lengths = load_request_csv(write_csv(tmp_path / "l.csv", [(0, 111, 11), (1, 222, 22)]))
    trace = load_servegen(servegen_dir(tmp_path), lengths, seed=5)
    assert trace.deployments == ("client-0", "client-7")
    assert trace.duration_s == 1800.0
    first = trace.arrival_s[trace.deployment == 0]
    second = trace.arrival_s[trace.deployment == 1]
    assert not ((first >= 600) & (first < 1200)).any(), "client 0 is idle in its second window"
    assert ((second >= 600) & (second < 1200)).all()
    assert len(first) == pytest.approx(600 + 300, rel=0.25)
    assert set(trace.input_tokens.tolist()) <= {111, 222}
    assert set(zip(trace.input_tokens.tolist(), trace.output_tokens.tolist(), strict=True)) <= {(111, 11), (222, 22)}
    again = load_servegen(servegen_dir(tmp_path), lengths, seed=5)
    assert np.array_equal(trace.arrival_s, again.arrival_s)


def test_servegen_span_multiplier_and_merge(tmp_path: Path) -> None:
    lengths = load_request_csv(write_csv(tmp_path / "l.csv", [(0, 100, 10)]))
    directory = servegen_dir(tmp_path)
    base = load_servegen(directory, lengths, clients=[0], start_s=1200, duration_s=600, seed=1)
    assert base.duration_s == 600 and base.arrival_s.max() < 600
    doubled = load_servegen(directory, lengths, clients=[0], start_s=1200, duration_s=600, seed=1, rate_multiplier=2)
    assert len(doubled) == pytest.approx(2 * len(base), rel=0.3)
    merged = load_servegen(directory, lengths, seed=1, merge=True)
    assert merged.deployments == ("servegen",)
    assert parse_clients("0,7", [0, 7]) == [0, 7]
    assert parse_clients("all", [0, 7]) == [0, 7]
    with pytest.raises(TraceError, match="no trace for"):
        parse_clients("0-3", [0, 7])


def test_warmup_prefix_replays_the_start_before_zero_and_is_not_measured() -> None:
    from scaler.sim.config import SimConfig
    from scaler.sim.run import simulate
    from scaler.sim.trace import with_warmup

    base = synthetic(400, gap=1.0)  # 200 requests in [0, 200), then a gap, then 200 more
    warm = with_warmup(base, 100.0, seed=1)
    assert warm.warmup_requests == 100
    assert np.all(warm.arrival_s[:100] < 0) and np.all(warm.arrival_s[:100] >= -100.0)
    assert np.array_equal(warm.arrival_s[100:], base.arrival_s)
    assert with_warmup(warm, 100.0, seed=1) is warm
    result = simulate(base, SimConfig(warmup_s=100.0), "tokenscale")
    assert result.summary["requests"] == len(base)
    assert result.summary["warmup_s"] == 100.0
