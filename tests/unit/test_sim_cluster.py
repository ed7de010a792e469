"""Pods on the simulated cluster: GPU limit and Pending pods, cold starts billed from binding,
draining on scale-down."""

from __future__ import annotations

import pytest

from scaler.reasons import Reason
from scaler.sim.config import SimConfig
from scaler.sim.core import Simulation
from scaler.sim.outcomes import Dropped
from scaler.sim.policies import policy_factory
from scaler.sim.policies.base import Policy, TargetView
from scaler.sim.policies.tokenscale import TokenscalePolicy
from serving.engine import H100, LLAMA_3_1_8B, ReplicaConfig
from tests.unit.simkit import Fixed, make_trace, poisson_rows

COLD_START = SimConfig().cold_start.total_s(ReplicaConfig(gpu=H100, model=LLAMA_3_1_8B))


def test_pods_beyond_the_gpu_limit_stay_pending_unschedulable_and_are_not_billed() -> None:
    sim = Simulation(make_trace([(1.0, 100, 10)], duration_s=300.0), SimConfig(gpu_limit=2, initial_replicas=4),
                     lambda i, n: Fixed(4))  # fmt: skip
    result = sim.run()
    dep = sim.deployments[0]
    assert dep.spec_replicas == 4
    assert dep.ready_replicas == 2
    assert dep.unscheduled_pods == 2
    assert "Insufficient nvidia.com/gpu" in dep.unschedulable_message
    assert result.summary["gpu_hours"] == pytest.approx(2 * 300 / 3600, rel=1e-5)


def test_a_wake_from_zero_bills_the_gpu_from_binding_and_the_first_request_waits_the_cold_start() -> None:
    trace = make_trace([(200.0, 500, 20)], duration_s=400.0)
    sim = Simulation(trace, SimConfig(), policy_factory("tokenscale", None), policy_name="tokenscale")
    result = sim.run()
    assert result.summary["cold_starts"] == 1
    ttft = float(sim.outcomes.ttft_s[0])
    assert COLD_START <= ttft <= COLD_START + 1.0
    (pod,) = sim.all_pods
    assert pod.bound_s is not None and 200.0 < pod.bound_s < 200.5, "the activator's poke wakes it at once"
    assert result.summary["gpu_hours"] == pytest.approx((400.0 - pod.bound_s) / 3600, rel=1e-4)
    assert result.summary["time_at_zero_s"] == pytest.approx(pod.bound_s, abs=0.01)


def test_tokenscale_does_not_add_replicas_while_pods_are_unschedulable() -> None:
    rows = poisson_rows(rate=30.0, seconds=300.0, prompt=1000, output=200)
    sim = Simulation(make_trace(rows), SimConfig(gpu_limit=2, initial_replicas=1),
                     policy_factory("tokenscale", None))  # fmt: skip
    policy = sim.deployments[0].policy
    assert isinstance(policy, TokenscalePolicy)
    reasons: list[Reason] = []
    tick = policy.tick

    def spy(target: TargetView, now: float) -> int | None:
        desired = tick(target, now)
        assert policy.last is not None
        reasons.append(policy.last.reason)
        return desired

    policy.tick = spy  # type: ignore[method-assign]
    sim.run()
    assert Reason.SCALE_UP_BLOCKED_UNSCHEDULABLE in reasons
    assert any(p.bound_s is None for p in sim.all_pods), "pods beyond the limit never bound"


class Shrink(Policy):
    """Two replicas, then one from t=30 on."""

    interval_s = 1.0

    def tick(self, target: TargetView, now: float) -> int | None:
        return 2 if now < 30 else 1


def test_a_deleted_pod_drains_in_flight_requests_and_aborts_what_outlives_the_grace_period() -> None:
    # Two long requests (about 3 minutes of decode each) and short ones; one pod is deleted at 30 s.
    rows = [(1.0, 100, 30_000), (1.5, 100, 30_000)] + [(2.0 + i * 0.1, 100, 50) for i in range(20)]
    sim = Simulation(make_trace(rows, duration_s=300.0), SimConfig(initial_replicas=2, drain_grace_s=60.0),
                     lambda i, n: Shrink())  # fmt: skip
    result = sim.run()
    drained = [p for p in sim.all_pods if p.deleted_s is not None]
    assert len(drained) == 1
    (pod,) = drained
    assert pod.deleted_s is not None
    assert pod.ended_s == pytest.approx(pod.deleted_s + 60.0, abs=1.0)  # billed through the grace period
    assert result.summary["dropped_by_reason"] == {Dropped.ABORTED.name.lower(): 1}
    assert result.summary["completed"] == len(rows) - 1
