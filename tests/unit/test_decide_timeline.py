"""`decide` walked along timelines with a fake clock, one behaviour per test."""

from __future__ import annotations

from metrics.catalog import QueryGroup, SignalName
from scaler.reasons import Reason
from tests.unit.timeline import Timeline, engine, spec, ttft_histogram


def test_steady_load_within_tolerance_keeps_the_count() -> None:
    tl = Timeline(spec(), replicas=3)
    for d in tl.run(120, values=engine(running=31, waiting=0)):  # 31 / (3 x 10) = 1.03, inside 10 %
        assert d.desired_replicas == 3
        assert d.reason is Reason.STEADY
    assert tl.replicas == 3


def test_load_rise_scales_up_to_ceil_of_demand_over_target() -> None:
    tl = Timeline(spec(), replicas=3)
    d = tl.tick(values=engine(running=38, waiting=9))  # in flight 47 -> ceil(4.7) = 5 (< 2 x 3: no panic)
    assert (d.desired_replicas, d.reason) == (5, Reason.SCALE_UP)
    assert d.proposals == {"RunningRequests": 5}
    assert not d.panic
    assert tl.replicas == 5


def test_scale_up_is_rate_limited_per_period() -> None:
    # Default scale-up: max(4 pods, 100 %) per 15 s.
    tl = Timeline(spec(maxReplicas=50), replicas=2)
    first = tl.tick(values=engine(running=300))  # wants 30
    assert first.desired_replicas == 6
    assert Reason.SCALE_UP_RATE_LIMITED in first.limits
    assert "wanted 30" in first.message
    second = tl.tick(5, values=engine(running=300))  # same 15 s period: nothing more allowed
    assert second.desired_replicas == 6
    third = tl.tick(11, values=engine(running=300))  # 16 s after the first change: 100 % of 6
    assert third.desired_replicas == 12


def test_scale_down_waits_for_the_stabilization_window() -> None:
    tl = Timeline(spec(), replicas=6)
    tl.run(60, values=engine(running=60))
    assert tl.replicas == 6
    # Load drops to 2 replicas' worth. Five minutes pass at reduced load: no scale-down.
    held = tl.run(305, values=engine(running=20))
    assert all(d.desired_replicas == 6 for d in held)
    assert held[-1].reason is Reason.SCALE_DOWN_STABILIZING
    # Then the count steps down as the higher recommendations (from the falling stable mean,
    # which took 55 s to settle) leave the 300 s window: never below the demand, never back up.
    later = [d.desired_replicas or 0 for d in tl.run(55, values=engine(running=20))]
    assert later == sorted(later, reverse=True)
    assert later[-1] == 2
    assert tl.replicas == 2


def test_scale_down_rate_limit_applies_when_configured() -> None:
    tl = Timeline(
        spec(
            behavior={
                "scaleDown": {
                    "stabilizationWindowSeconds": 0,
                    "policies": [{"type": "Pods", "value": 1, "periodSeconds": 30}],
                }
            }
        ),
        replicas=5,
    )
    d = tl.tick(values=engine(running=10))
    assert d.desired_replicas == 4
    assert Reason.SCALE_DOWN_RATE_LIMITED in d.limits
    assert tl.tick(10, values=engine(running=10)).desired_replicas == 4
    assert tl.tick(25, values=engine(running=10)).desired_replicas == 3


def test_panic_mode_scales_on_the_short_window_and_never_down_while_panicking() -> None:
    tl = Timeline(
        spec(
            maxReplicas=20, behavior={"scaleUp": {"policies": [{"type": "Percent", "value": 1000, "periodSeconds": 1}]}}
        ),
        replicas=2,
    )
    tl.run(60, values=engine(running=18))  # steady at 2
    assert tl.replicas == 2
    first = tl.tick(values=engine(running=120))  # short window mean 69: 7 replicas >= 2 x 2 ready
    assert first.panic
    assert (first.desired_replicas, first.reason) == (7, Reason.PANIC_SCALE_UP)
    burst = tl.tick(values=engine(running=120))  # short window now all burst: 12
    assert burst.desired_replicas == 12
    # The burst ends; while in panic the count may not drop, for a whole stable window.
    calm = tl.run(55, values=engine(running=18))
    assert all(d.desired_replicas == 12 for d in calm)
    assert any(Reason.SCALE_DOWN_BLOCKED_PANIC in d.limits for d in calm)
    exit_tick = tl.run(10, values=engine(running=18))[-1]
    assert not exit_tick.panic


def test_missing_signal_holds_and_never_changes_the_count() -> None:
    tl = Timeline(spec(), replicas=4)
    values = engine(running=5)
    del values[SignalName.RUNNING]
    d = tl.tick(values=values)
    assert d.desired_replicas is None
    assert d.reason is Reason.HOLD_MISSING
    assert "running_requests" in d.message
    assert tl.replicas == 4


def test_stale_samples_hold() -> None:
    tl = Timeline(spec(), replicas=4)
    d = tl.tick(values=engine(running=0, age=120))
    assert (d.desired_replicas, d.reason) == (None, Reason.HOLD_STALE)
    assert "120 s old" in d.message


def test_failed_prometheus_query_holds_even_when_old_values_would_say_idle() -> None:
    tl = Timeline(spec(minReplicas=0, behavior={"scaleToZero": {"idleGracePeriodSeconds": 30}}), replicas=3)
    for d in tl.run(300, values=engine(running=0, activator_pending=0), failed=frozenset({QueryGroup.ENGINE})):
        assert (d.desired_replicas, d.reason) == (None, Reason.HOLD_PROMETHEUS_DOWN)
    assert tl.replicas == 3


def test_scale_to_zero_after_the_idle_grace_with_fresh_data() -> None:
    tl = Timeline(
        spec(
            minReplicas=0,
            behavior={"scaleToZero": {"idleGracePeriodSeconds": 120}, "scaleDown": {"stabilizationWindowSeconds": 0}},
        ),
        replicas=1,
    )
    idle = engine(running=0, activator_pending=0, activator_rps=0)
    before = tl.run(120, values=idle)  # idle evidence starts at the first idle tick (+5 s)
    assert all(d.desired_replicas == 1 for d in before)
    d = tl.tick(values=idle)
    assert (d.desired_replicas, d.reason) == (0, Reason.SCALE_TO_ZERO)
    assert tl.replicas == 0


def test_a_gap_in_the_data_restarts_the_idle_grace_period() -> None:
    tl = Timeline(spec(minReplicas=0, behavior={"scaleToZero": {"idleGracePeriodSeconds": 60}}), replicas=1)
    idle = engine(running=0, activator_pending=0)
    tl.run(50, values=idle)
    tl.tick(values=engine(running=0, age=500))  # stale: not evidence of idleness
    after_gap = tl.run(55, values=idle)
    assert all(d.desired_replicas == 1 for d in after_gap)
    assert tl.run(10, values=idle)[-1].desired_replicas == 0


def test_scale_to_zero_refused_without_an_activator_to_wake_the_target() -> None:
    tl = Timeline(spec(minReplicas=0, behavior={"scaleToZero": {"idleGracePeriodSeconds": 10}}), replicas=1)
    decisions = tl.run(60, values=engine(running=0))  # no activator series at all
    assert tl.replicas == 1
    assert decisions[-1].reason is Reason.SCALE_TO_ZERO_BLOCKED_NO_ACTIVATOR


def test_idle_with_min_one_stays_at_one() -> None:
    tl = Timeline(spec(minReplicas=1), replicas=1)
    for d in tl.run(600, values=engine(running=0, activator_pending=0)):
        assert d.desired_replicas == 1


def test_wake_from_zero_on_activator_metrics_sized_by_held_requests() -> None:
    tl = Timeline(spec(minReplicas=0), replicas=0)
    quiet = tl.tick(values={SignalName.ACTIVATOR_PENDING: 0.0, SignalName.ACTIVATOR_RPS: 0.0})
    assert (quiet.desired_replicas, quiet.reason) == (0, Reason.IDLE_AT_ZERO)
    d = tl.tick(values={SignalName.ACTIVATOR_PENDING: 25.0, SignalName.ACTIVATOR_RPS: 3.0})
    assert (d.desired_replicas, d.reason) == (3, Reason.WAKE_FROM_ZERO)  # ceil(25 / 10)


def test_wake_from_zero_on_the_activator_poke_without_waiting_for_a_scrape() -> None:
    tl = Timeline(spec(minReplicas=0), replicas=0)
    d = tl.tick(values={}, poke=1)
    assert (d.desired_replicas, d.reason) == (1, Reason.WAKE_FROM_ZERO)
    tl.ready = 0
    starting = tl.tick(values={})
    assert starting.reason is Reason.HOLD_PODS_STARTING
    tl.ready = None
    woken = tl.tick(values=engine(running=1))
    assert woken.wake_duration_s == 10.0


def test_wake_duration_is_reported_even_when_the_first_ready_tick_holds_on_metrics() -> None:
    """A woken pod's metrics need a scrape to appear, so the first tick that sees it ready holds."""
    tl = Timeline(spec(minReplicas=0), replicas=0)
    tl.tick(values={}, poke=1)
    first_ready = tl.tick(values={})  # ready, but no engine series yet
    assert first_ready.reason is Reason.HOLD_MISSING
    assert first_ready.wake_duration_s == 5.0
    later = tl.tick(values=engine(running=1))
    assert later.wake_duration_s is None  # reported once


def test_at_zero_without_a_demand_signal_holds_at_zero() -> None:
    tl = Timeline(spec(minReplicas=0), replicas=0)
    d = tl.tick(values={}, failed=frozenset({QueryGroup.ACTIVATOR}))
    assert (d.desired_replicas, d.reason) == (None, Reason.HOLD_NO_DEMAND_SIGNAL)


def test_unschedulable_pods_block_further_scale_up_with_the_scheduler_message() -> None:
    tl = Timeline(spec(maxReplicas=20), replicas=4, ready=2)
    d = tl.tick(values=engine(running=150), unschedulable=2)
    assert d.desired_replicas == 4
    assert d.reason is Reason.SCALE_UP_BLOCKED_UNSCHEDULABLE
    assert "Insufficient nvidia.com/gpu" in d.message
    for d in tl.run(300, values=engine(running=150), unschedulable=2):
        assert d.desired_replicas == 4  # no runaway


def test_pending_unscheduled_pods_block_scale_up() -> None:
    tl = Timeline(spec(), replicas=3)
    d = tl.tick(values=engine(running=80), unscheduled=1)
    assert (d.desired_replicas, d.reason) == (3, Reason.SCALE_UP_BLOCKED_PENDING)


def test_demand_above_max_clamps_and_says_so() -> None:
    tl = Timeline(spec(maxReplicas=3), replicas=3)
    d = tl.tick(values=engine(running=500))
    assert (d.desired_replicas, d.reason) == (3, Reason.AT_MAX)


def test_lowered_max_applies_at_once() -> None:
    tl = Timeline(spec(maxReplicas=8), replicas=8)
    tl.run(30, values=engine(running=80))
    tl = tl.with_spec(maxReplicas=5, signals=[{"type": "RunningRequests", "targetPerReplica": 10}])
    d = tl.tick(values=engine(running=80))
    assert (d.desired_replicas, d.reason) == (5, Reason.ABOVE_MAX)


def test_below_min_scales_up_even_without_load() -> None:
    tl = Timeline(spec(minReplicas=3), replicas=1)
    d = tl.tick(values=engine(running=0))
    assert (d.desired_replicas, d.reason) == (3, Reason.BELOW_MIN)


def test_ttft_slo_breach_adds_a_replica_and_closeness_blocks_scale_down() -> None:
    slo = {"timeToFirstToken": {"percentile": 95, "thresholdSeconds": 1.0}}
    tl = Timeline(spec(slo=slo, behavior={"scaleDown": {"stabilizationWindowSeconds": 0}}), replicas=2)
    breach = tl.tick(values=engine(running=16, waiting=2), histograms={SignalName.TTFT_BUCKETS: ttft_histogram(2.5)})
    assert (breach.desired_replicas, breach.reason) == (3, Reason.SLO_SCALE_UP)
    close = tl.tick(values=engine(running=5), histograms={SignalName.TTFT_BUCKETS: ttft_histogram(0.9)})
    assert close.desired_replicas == 3
    assert close.reason is Reason.SCALE_DOWN_BLOCKED_SLO


def test_gpu_guard_vetoes_scale_down_and_missing_gpu_data_is_conservative() -> None:
    tl = Timeline(spec(gpuUtilizationGuard=0.8, behavior={"scaleDown": {"stabilizationWindowSeconds": 0}}), replicas=4)
    busy = tl.tick(values=engine(running=10, gpu_busy_ratio=0.9))
    assert (busy.desired_replicas, busy.reason) == (4, Reason.SCALE_DOWN_BLOCKED_GPU)
    unknown = tl.tick(values=engine(running=10))
    assert unknown.desired_replicas == 4
    free = tl.tick(values=engine(running=10, gpu_busy_ratio=0.3))
    assert free.desired_replicas == 1


def test_incomplete_pod_coverage_allows_scale_up_but_not_down() -> None:
    tl = Timeline(spec(behavior={"scaleDown": {"stabilizationWindowSeconds": 0}}), replicas=4)
    down = tl.tick(values=engine(running=5, reporting=3))
    assert (down.desired_replicas, down.reason) == (4, Reason.SCALE_DOWN_BLOCKED_INCOMPLETE)
    tl.tick(values=engine(running=70, reporting=3))  # short window: mean of 5 and 70
    up = tl.tick(values=engine(running=70, reporting=3))
    assert up.desired_replicas == 7


def test_kubernetes_view_inconsistent_holds() -> None:
    tl = Timeline(spec(), replicas=2)
    d = tl.tick(values=engine(running=100), consistent=False)
    assert (d.desired_replicas, d.reason) == (None, Reason.HOLD_KUBERNETES_VIEW)


def test_pods_starting_hold_without_metrics() -> None:
    tl = Timeline(spec(), replicas=2, ready=0)
    d = tl.tick(values={})
    assert (d.desired_replicas, d.reason) == (None, Reason.HOLD_PODS_STARTING)


def test_kv_cache_signal_sizes_by_summed_usage() -> None:
    tl = Timeline(spec(signals=[{"type": "KVCacheUsage", "targetPerReplica": 0.7}]), replicas=3)
    d = tl.tick(values=engine(kv=2.7))  # 3 pods at 0.9 -> ceil(2.7 / 0.7) = 4
    assert d.desired_replicas == 4


def test_max_over_signals_wins() -> None:
    tl = Timeline(
        spec(
            signals=[
                {"type": "RunningRequests", "targetPerReplica": 10},
                {"type": "WaitingRequests", "targetPerReplica": 2},
            ]
        ),
        replicas=2,
    )
    d = tl.tick(values=engine(running=20, waiting=12))  # running: ceil(32/10)=4; waiting: ceil(12/2)=6
    assert d.desired_replicas == 6
    assert d.proposals == {"RunningRequests": 4, "WaitingRequests": 6}


def test_a_past_ttft_breach_adds_no_replica_once_the_queue_is_gone_or_capacity_is_starting() -> None:
    slo = {"timeToFirstToken": {"percentile": 95, "thresholdSeconds": 1.0}}
    slow = {SignalName.TTFT_BUCKETS: ttft_histogram(5.0)}  # the rate window still remembers a bad minute
    tl = Timeline(spec(slo=slo), replicas=2)
    drained = tl.tick(values=engine(running=15, waiting=0), histograms=slow)
    assert drained.desired_replicas == 2
    tl.replicas, tl.ready = 3, 2  # one replica still starting
    starting = tl.tick(values=engine(running=15, waiting=4), histograms=slow)
    assert starting.desired_replicas == 3
    tl.ready = None
    queued = tl.tick(values=engine(running=15, waiting=4), histograms=slow)
    assert (queued.desired_replicas, queued.reason) == (4, Reason.SLO_SCALE_UP)


def test_requests_held_while_the_first_replica_starts_keep_sizing_the_wake() -> None:
    tl = Timeline(spec(minReplicas=0, signals=[{"type": "RunningRequests", "targetPerReplica": 32},
                                               {"type": "WaitingRequests", "targetPerReplica": 4}]), replicas=0)  # fmt: skip
    first = tl.tick(values={}, poke=2)
    assert (first.desired_replicas, first.reason) == (1, Reason.WAKE_FROM_ZERO)
    tl.ready = 0
    more = tl.tick(values={SignalName.ACTIVATOR_PENDING: 30.0})  # 30 held / 4 per replica
    assert (more.desired_replicas, more.reason) == (4, Reason.WAKE_FROM_ZERO)  # 4 pods per 15 s, the first included
    steady = tl.tick(values={SignalName.ACTIVATOR_PENDING: 30.0})
    assert (steady.desired_replicas, steady.reason) == (None, Reason.HOLD_PODS_STARTING)


def test_requests_held_while_replicas_start_below_min_go_straight_to_min() -> None:
    # Found by the min/max property: 1 replica starting, minReplicas 3, 7 requests held. Sizing by
    # the held requests alone asked for 2; the floor is a bound and must win.
    tl = Timeline(spec(minReplicas=3, maxReplicas=3, signals=[{"type": "WaitingRequests", "targetPerReplica": 4}]),
                  replicas=1)  # fmt: skip
    tl.ready = 0
    d = tl.tick(values={SignalName.ACTIVATOR_PENDING: 7.0})
    assert d.desired_replicas == 3
