"""Small helpers for the simulator tests: hand-made traces, a fixed-size policy, a fake TargetView."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from scaler.sim.policies.base import Policy, TargetView
from scaler.sim.prom import Prometheus
from scaler.sim.trace import Trace


def make_trace(
    rows: Sequence[tuple[float, int, int]], duration_s: float | None = None, deployments: Sequence[int] | None = None
) -> Trace:
    arrival = np.asarray([r[0] for r in rows], dtype=np.float64)
    owner = np.asarray(deployments if deployments is not None else [0] * len(rows), dtype=np.int64)
    names = tuple(f"d{i}" for i in range(int(owner.max(initial=0)) + 1))
    return Trace(
        "test",
        arrival,
        np.asarray([r[1] for r in rows], dtype=np.int64),
        np.asarray([r[2] for r in rows], dtype=np.int64),
        owner,
        names,
        float(arrival.max(initial=0.0)) if duration_s is None else duration_s,
    )


def poisson_rows(rate: float, seconds: float, prompt: int, output: int, seed: int = 0) -> list[tuple[float, int, int]]:
    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.exponential(1 / rate, int(rate * seconds * 1.5) + 10))
    return [(float(t), prompt, output) for t in times[times < seconds]]


class Fixed(Policy):
    """Asks for `replicas` at every tick (a static fleet); optionally holds requests at zero."""

    def __init__(self, replicas: int, holds: bool = True) -> None:
        self.replicas = replicas
        self.min_replicas = replicas
        self.holds_requests = holds
        self.interval_s = 5.0

    def tick(self, target: TargetView, now: float) -> int | None:
        return self.replicas


@dataclass
class FakeTarget:
    """A TargetView whose numbers a test sets directly."""

    spec_replicas: int = 1
    ready_replicas: int = 1
    unscheduled_pods: int = 0
    held_requests: int = 0
    flight: int = 0
    phases: dict[str, str] = field(default_factory=dict)
    prometheus: Prometheus = field(default_factory=lambda: Prometheus(60.0, 300.0))
    cold_start_s: float | None = None
    name: str = "fake"
    unschedulable_message: str = ""

    def in_flight(self) -> int:
        return self.flight

    def pods_by_phase(self) -> list[tuple[str, str]]:
        return list(self.phases.items())
