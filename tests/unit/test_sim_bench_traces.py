"""`make bench` runs on a fresh clone anywhere: every scenario's trace is found where the bench looks."""

from __future__ import annotations

from scaler.sim.bench import DEFAULT_TRACES, SCENARIOS, _trace_spec
from scaler.sim.run import load_trace
from serving.stack.shared_data import REPO


def test_the_default_traces_are_inside_the_repository() -> None:
    # The bench once looked in ../shared/traces, which exists on the development machine only.
    assert DEFAULT_TRACES.resolve().is_relative_to(REPO)


def test_every_scenario_trace_loads_from_the_default_directory() -> None:
    for scenario in SCENARIOS:
        spec = _trace_spec(scenario, DEFAULT_TRACES, seed=0)
        assert spec.path.exists(), f"{scenario.name}: {spec.path} missing"
    # Loading one proves the path is a readable trace, not just a name (the ServeGen directory
    # also needs its per-request lengths file beside it, which load_trace checks).
    mooncake = next(s for s in SCENARIOS if s.trace == "mooncake_synthetic.csv")
    assert len(load_trace(_trace_spec(mooncake, DEFAULT_TRACES, seed=0)).arrival_s) > 0
