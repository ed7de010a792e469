"""Each simulated baseline shows its characteristic behaviour: HPA's tolerance and damping, KEDA's
activation and cooldown, Knative's panic mode and scale-to-zero grace."""

from __future__ import annotations

from scaler.sim import prom
from scaler.sim.policies.hpa import HpaPolicy
from scaler.sim.policies.hpa_algo import external_metric_replicas, pods_metric_replicas
from scaler.sim.policies.keda import KedaPolicy
from scaler.sim.policies.kpa import KpaPolicy
from tests.unit.simkit import FakeTarget


def engine_sample(waiting: float = 0.0, running: float = 0.0) -> tuple[float, ...]:
    values = [0.0] * 7
    values[prom.WAITING], values[prom.RUNNING] = waiting, running
    return tuple(values)


def test_hpa_keeps_the_count_within_tolerance_and_scales_outside_it() -> None:
    target = FakeTarget(spec_replicas=2, ready_replicas=2, phases={"a": "Ready", "b": "Ready"})
    hpa = HpaPolicy({"metric": "waiting", "target": 5})
    target.prometheus.scrape_pod("a", 0.0, engine_sample(waiting=5.0), None)
    target.prometheus.scrape_pod("b", 0.0, engine_sample(waiting=5.8), None)  # mean 5.4: ratio 1.08
    assert hpa.tick(target, 1.0) == 2
    target.prometheus.scrape_pod("b", 15.0, engine_sample(waiting=7.0), None)  # mean 6: ratio 1.2
    target.prometheus.scrape_pod("a", 15.0, engine_sample(waiting=5.0), None)
    assert hpa.tick(target, 16.0) == 3


def test_hpa_counts_starting_pods_as_empty_on_scale_up_and_ignores_pending_and_terminating_ones() -> None:
    phases = {"a": "Ready", "b": "Starting", "c": "Pending", "d": "Terminating"}
    # a reports 12 waiting (ratio 2.4); b has no sample yet and counts as 0: mean over a, b is 6.
    assert pods_metric_replicas({"a": 12.0, "d": 50.0}, phases, 5.0, 3, 0.1) == 3
    # On the way down, the missing pod counts at the target: a at 1, b at 5 -> ratio 0.6, 2 pods.
    assert pods_metric_replicas({"a": 1.0}, phases, 5.0, 3, 0.1) == 2  # ceil(0.6 x 2 pods)
    assert pods_metric_replicas({"a": 1.0}, {"a": "Ready"}, 5.0, 3, 0.1) == 1


def test_hpa_scale_down_waits_for_the_300_s_stabilization_window() -> None:
    pods = "abcdef"
    target = FakeTarget(spec_replicas=4, ready_replicas=4, phases=dict.fromkeys(pods[:4], "Ready"))
    hpa = HpaPolicy({"metric": "waiting", "target": 5})
    for p in pods[:4]:
        target.prometheus.scrape_pod(p, 0.0, engine_sample(waiting=7.5), None)  # ratio 1.5: 6 replicas
    assert hpa.tick(target, 1.0) == 6
    hpa.on_scaled(1.0, 4, 6)
    target.spec_replicas = target.ready_replicas = 6
    target.phases = dict.fromkeys(pods, "Ready")
    kept = []
    for t in range(15, 330, 15):
        for p in pods:
            target.prometheus.scrape_pod(p, float(t), engine_sample(waiting=0.0), None)
        kept.append((t, hpa.tick(target, float(t) + 1)))
    assert all(d == 6 for t, d in kept if t + 1 < 301), kept
    assert kept[-1][1] == 1  # the high recommendation left the window: down to minReplicas
    assert HpaPolicy({}).tick(FakeTarget(spec_replicas=0), 0.0) is None


def test_external_metric_is_absolute_with_tolerance() -> None:
    assert external_metric_replicas(total=52.0, target=5.0, current=10, tolerance=0.1) == 10
    assert external_metric_replicas(total=80.0, target=5.0, current=10, tolerance=0.1) == 16
    assert external_metric_replicas(total=0.0, target=5.0, current=3, tolerance=0.1) == 0


def test_keda_wakes_on_the_activation_rate_and_scales_to_zero_after_the_cooldown() -> None:
    target = FakeTarget(spec_replicas=0, ready_replicas=0)
    keda = KedaPolicy({})
    target.prometheus.scrape_activator(0.0, 0.0, 0.0)
    assert keda.tick(target, 1.0) is None  # no request seen yet
    target.prometheus.scrape_activator(15.0, 2.0, 2.0)
    assert keda.tick(target, 31.0) == 1  # next poll (30 s later) sees the requests
    target.spec_replicas = target.ready_replicas = 1
    target.prometheus.pods.clear()
    zero_at = None
    for t in range(46, 1000, 15):
        target.prometheus.scrape_activator(float(t), 0.0, 2.0)  # no new requests after 15 s
        desired = keda.tick(target, float(t))
        if desired == 0:
            zero_at = t
            break
    assert zero_at is not None and keda.last_active is not None
    # Active while the 2 min rate window still shows the rise, then 300 s of cooldown.
    assert zero_at >= keda.last_active + 300
    assert 15 + 300 <= zero_at <= 15 + 120 + 300 + 45


def test_kpa_panics_on_a_burst_and_does_not_scale_down_until_a_stable_window_passes() -> None:
    target = FakeTarget(spec_replicas=2, ready_replicas=2, flight=100)
    kpa = KpaPolicy({})  # target 70 in flight per replica
    decisions = {t: kpa.tick(target, float(t)) for t in range(0, 60)}
    assert decisions[58] == 2
    target.flight = 400  # panic window: ceil(400 / 70) = 6 >= 2 x 2 ready
    burst = [kpa.tick(target, float(t)) for t in range(60, 70)]
    assert 6 in burst
    assert kpa.panic_since is not None
    target.spec_replicas = target.ready_replicas = 6
    target.flight = 20  # load vanishes: still no scale-down while panicking
    calm = [kpa.tick(target, float(t)) for t in range(70, 120)]
    assert all(d is None or d >= 6 for d in calm)
    later = [kpa.tick(target, float(t)) for t in range(120, 200)]
    assert any(d is not None and d < 6 for d in later)
    assert kpa.panic_since is None


def test_kpa_scales_to_zero_only_after_the_grace_period_and_wakes_on_a_poke() -> None:
    target = FakeTarget(spec_replicas=1, ready_replicas=1, flight=0)
    kpa = KpaPolicy({})
    decisions = [(t, kpa.tick(target, float(t))) for t in range(0, 120)]
    zero = [t for t, d in decisions if d == 0]
    assert zero and zero[0] >= 30  # desired 0 from the first tick, then the 30 s grace
    assert all(d is None or d >= 1 for t, d in decisions if t < 30)
    target.spec_replicas = target.ready_replicas = 0
    target.held_requests = target.flight = 3
    assert kpa.poke(target, 200.0) == 1
