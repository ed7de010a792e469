"""A new target, or a restarted controller, does not shed capacity on its first samples: the
scale-down stabilization history starts with the current count, as the HPA seeds it."""

from __future__ import annotations

from scaler.reasons import Reason
from tests.unit.timeline import Timeline, engine, spec


def test_the_first_low_samples_do_not_scale_down_before_a_window_has_passed() -> None:
    tl = Timeline(spec(), replicas=6)  # default scale-down window: 300 s
    first = tl.tick(values=engine(running=12))  # thin early data: 2 replicas' worth
    assert first.desired_replicas == 6
    assert first.reason is Reason.SCALE_DOWN_STABILIZING
    held = tl.run(290, values=engine(running=12))
    assert all(d.desired_replicas == 6 for d in held)
    tl.run(30, values=engine(running=12))
    assert tl.replicas == 2


def test_scale_up_is_not_delayed_by_the_seed() -> None:
    tl = Timeline(spec(), replicas=2)
    assert tl.tick(values=engine(running=35)).desired_replicas == 4


def test_a_zero_scale_down_window_still_scales_down_at_once() -> None:
    tl = Timeline(spec(behavior={"scaleDown": {"stabilizationWindowSeconds": 0}}), replicas=6)
    assert tl.tick(values=engine(running=12)).desired_replicas == 2
