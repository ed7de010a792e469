"""The release ramp: burst at once, then a rate that doubles every second, per ready endpoint."""

from __future__ import annotations

import math

import pytest

from serving.activator.release import ReleaseRamp

RAMP = ReleaseRamp(rate=50, burst=25)


def test_nothing_is_released_without_a_ready_endpoint() -> None:
    assert RAMP.allowance(10.0, 0) == 0.0


def test_burst_goes_at_once_and_scales_with_ready_endpoints() -> None:
    assert RAMP.allowance(0.0, 1) == 25
    assert RAMP.allowance(0.0, 3) == 75


def test_rate_doubles_every_second() -> None:
    # Integral of 50 * 2^t over [0, 1] is 50/ln2; over [1, 2] it is twice that.
    first = RAMP.allowance(1.0, 1) - RAMP.allowance(0.0, 1)
    second = RAMP.allowance(2.0, 1) - RAMP.allowance(1.0, 1)
    assert first == pytest.approx(50 / math.log(2))
    assert second == pytest.approx(2 * first)


@pytest.mark.parametrize(("held", "within_s"), [(200, 1.8), (1000, 3.9)])
def test_documented_release_times_hold(held: int, within_s: float) -> None:
    assert RAMP.allowance(within_s, 1) >= held
    assert RAMP.allowance(within_s - 0.2, 1) < held


def test_zero_rate_means_everything_at_once() -> None:
    ramp = ReleaseRamp(rate=0, burst=1)
    assert ramp.unlimited
    assert ramp.allowance(0.0, 1) == math.inf
    assert ramp.next_release_in(0.0, 1, 10**6) == 0.0


@pytest.mark.parametrize("released", [0, 24, 25, 26, 100, 999])
def test_next_release_in_inverts_allowance(released: int) -> None:
    wait = RAMP.next_release_in(0.0, 1, released)
    assert RAMP.allowance(wait + 1e-9, 1) >= released + 1
    if wait > 0:
        assert RAMP.allowance(wait - 1e-3, 1) < released + 1
