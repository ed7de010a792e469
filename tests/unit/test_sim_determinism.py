"""Same trace, policy and seed: byte-identical JSON; the CLI's required fields are all there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scaler.sim.cli import run
from tests.unit.simkit import poisson_rows

REQUIRED = (
    "policy", "trace", "rate_multiplier", "requests", "completed", "dropped", "ttft_p50", "ttft_p95", "ttft_p99",
    "itl_p50", "itl_p95", "itl_p99", "ttft_slo_attainment", "itl_slo_attainment", "gpu_hours", "cost_usd",
    "scale_events", "cold_starts", "time_at_zero_s", "max_replicas",
)  # fmt: skip


@pytest.fixture(scope="module")
def trace_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = poisson_rows(rate=3.0, seconds=240.0, prompt=800, output=120, seed=4)
    rows += [(400.0 + r[0], r[1], r[2]) for r in poisson_rows(rate=1.0, seconds=60.0, prompt=300, output=40)]
    path = tmp_path_factory.mktemp("traces") / "small.csv"
    path.write_text("arrival_s,input_tokens,output_tokens\n" + "".join(f"{a:.6f},{i},{o}\n" for a, i, o in rows))
    return path


def simulate_json(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert run([*argv, "--json"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("policy", ["tokenscale", "kpa", "keda", "hpa"])
def test_same_seed_gives_identical_json(policy: str, trace_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ("--trace", str(trace_csv), "--rate-multiplier", "2.5", "--seed", "3", "--policy", policy)
    first = simulate_json(capsys, *args)
    second = simulate_json(capsys, *args)
    assert first == second
    summary = json.loads(first)
    assert all(key in summary for key in REQUIRED)
    assert summary["policy"] == policy and summary["rate_multiplier"] == 2.5
    assert summary["requests"] == summary["completed"] + summary["dropped"]


def test_another_seed_gives_other_requests(trace_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ("--trace", str(trace_csv), "--rate-multiplier", "2.5", "--policy", "tokenscale")
    a = json.loads(simulate_json(capsys, *args, "--seed", "1"))
    b = json.loads(simulate_json(capsys, *args, "--seed", "2"))
    assert a["requests"] != b["requests"] or a["ttft_p50"] != b["ttft_p50"]


def test_readable_summary_without_json(trace_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--trace", str(trace_csv), "--policy", "hpa", "--policy-config", "tuned"]) == 0
    out = capsys.readouterr()
    assert "GPU-hours" in out.out and "TTFT p50/p95/p99" in out.out
    assert "[" in out.err or out.err == ""  # the progress bar goes to stderr


def test_bad_inputs_are_reported_not_raised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--trace", str(tmp_path / "missing.csv"), "--policy", "tokenscale"]) == 2
    assert "missing.csv" in capsys.readouterr().err
    bad = tmp_path / "spec.yaml"
    bad.write_text("maxReplicas: -1\n")
    trace = tmp_path / "t.csv"
    trace.write_text("arrival_s,input_tokens,output_tokens\n0,10,10\n")
    assert run(["--trace", str(trace), "--policy", "tokenscale", "--policy-config", str(bad)]) == 2
    assert "maxReplicas" in capsys.readouterr().err
