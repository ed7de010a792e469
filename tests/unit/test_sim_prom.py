"""The simulated Prometheus evaluates rate(), staleness and lookback the way Prometheus does."""

from __future__ import annotations

import pytest

from scaler.sim import prom
from scaler.sim.prom import Prometheus, extrapolated_rate


def sample(counter: float, running: float = 1.0) -> tuple[float, ...]:
    values = [0.0] * 7
    values[prom.GEN_TOKENS], values[prom.RUNNING] = counter, running
    return tuple(values)


def test_rate_of_a_steady_counter_is_its_slope() -> None:
    p = Prometheus(60.0, 300.0)
    for t in range(0, 121, 15):
        p.scrape_pod("a", float(t), sample(10.0 * t + 1000), None)
    assert p.rate_sum(prom.GEN_TOKENS, 120.0) == pytest.approx(10.0)
    # Between scrapes nothing changes but the extrapolation: still about the slope.
    assert p.rate_sum(prom.GEN_TOKENS, 128.0) == pytest.approx(10.0, rel=0.15)


def test_a_new_pod_has_no_rate_until_its_second_scrape_and_counters_do_not_extrapolate_below_zero() -> None:
    p = Prometheus(60.0, 300.0)
    p.scrape_pod("a", 0.0, sample(0.0), None)
    assert p.rate_sum(prom.GEN_TOKENS, 1.0) is None
    assert p.gauge_sum(prom.RUNNING, 1.0) == 1.0
    p.scrape_pod("a", 15.0, sample(150.0), None)
    # A counter that starts at 0 is not extrapolated before its first sample.
    assert p.rate_sum(prom.GEN_TOKENS, 15.0) == pytest.approx(150.0 / 60)
    assert extrapolated_rate(0.0, 5.0, 15.0, 155.0, 2, -45.0, 15.0) == pytest.approx(150 * (15 + 0.5) / 15 / 60)


def test_gone_pods_go_stale_for_instant_queries_but_stay_in_rate_windows() -> None:
    p = Prometheus(60.0, 300.0)
    for t in (0.0, 15.0, 30.0):
        p.scrape_pod("a", t, sample(10 * t), None)
        p.scrape_pod("b", t, sample(20 * t), None)
    assert p.gauge_sum(prom.RUNNING, 40.0) == 2.0  # before the stale marker both answer
    p.mark_stale("b", 45.0)
    p.scrape_pod("a", 45.0, sample(450.0), None)
    assert p.gauge_sum(prom.RUNNING, 46.0) == 1.0
    assert p.reporting(46.0) == 1
    only_a = extrapolated_rate(0.0, 0.0, 45.0, 450.0, 4, -14.0, 46.0)
    assert p.rate_sum(prom.GEN_TOKENS, 46.0) == pytest.approx(only_a + 600 * 46 / 30 / 60)


def test_lookback_and_absence() -> None:
    p = Prometheus(60.0, 300.0)
    assert p.gauge_sum(prom.RUNNING, 0.0) is None
    assert p.activator_pending(0.0) is None
    p.scrape_activator(0.0, 3.0, 10.0)
    assert p.activator_pending(299.0) == 3.0
    assert p.activator_pending(301.0) is None
