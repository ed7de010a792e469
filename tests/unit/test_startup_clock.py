"""Pod start-up measured per target, for predictive pre-scaling."""

from __future__ import annotations

from scaler.observation import KubeView
from scaler.startup import StartupClock

KEY = ("ns", "llama", "uid")


def test_a_scale_up_is_timed_until_its_replicas_are_ready() -> None:
    clock = StartupClock()
    assert clock.observe(KEY, KubeView(spec_replicas=1, ready_replicas=1), 0.0) is None
    clock.scaled(KEY, 1, 3, 10.0)
    assert clock.observe(KEY, KubeView(spec_replicas=3, ready_replicas=2), 30.0) is None
    assert clock.observe(KEY, KubeView(spec_replicas=3, ready_replicas=3), 52.0) == 42.0
    clock.scaled(KEY, 3, 4, 100.0)
    assert clock.observe(KEY, KubeView(spec_replicas=4, ready_replicas=4), 120.0) == 42.0  # the slowest recent


def test_a_scale_down_or_a_stuck_start_abandons_the_measurement() -> None:
    clock = StartupClock()
    clock.scaled(KEY, 1, 3, 0.0)
    clock.scaled(KEY, 3, 2, 5.0)
    assert clock.observe(KEY, KubeView(spec_replicas=2, ready_replicas=2), 10.0) is None
    clock.scaled(KEY, 2, 5, 20.0)
    assert clock.observe(KEY, KubeView(spec_replicas=5, ready_replicas=2), 20.0 + 4000) is None
    assert clock.observe(KEY, KubeView(spec_replicas=5, ready_replicas=5), 20.0 + 4001) is None


def test_forget_drops_a_deleted_autoscalers_measurements() -> None:
    clock = StartupClock()
    clock.scaled(KEY, 1, 2, 0.0)
    clock.observe(KEY, KubeView(spec_replicas=2, ready_replicas=2), 30.0)
    clock.scaled(KEY, 2, 3, 40.0)
    clock.forget(KEY)
    # Neither the finished sample nor the pending scale-up survives.
    assert clock.observe(KEY, KubeView(spec_replicas=3, ready_replicas=3), 50.0) is None
