"""Scale up under a replayed burst, and back down after the stabilization window, on the real API
server: the controller writes /scale as its ServiceAccount, KWOK starts the pods after the ready
delay, the bridge turns Ready pods into emulated replicas, Prometheus scrapes them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.e2e.autoscalers import quick_spec, scale_events
from tests.e2e.conftest import E2E_POD_READY_DELAY_S
from tests.e2e.kube_helpers import wait_for
from tests.e2e.load import BackgroundReplay, TraceSlice
from tests.e2e.stack import ServingStack, StackSpec
from tests.e2e.timeline import Timeline

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

MAX_REPLICAS = 4
BURST = quick_spec(
    min_replicas=1,
    max_replicas=MAX_REPLICAS,
    stable_window_s=10,
    # Long: this test looks at the way up; the next one at the way down.
    scaleDown={"stabilizationWindowSeconds": 600},
)

SCALE_DOWN_WINDOW_S = 8
IDLE_AT_THREE = quick_spec(
    min_replicas=1, max_replicas=4, scaleDown={"stabilizationWindowSeconds": SCALE_DOWN_WINDOW_S}
)


def test_replayed_burst_scales_up(serving_stack: Callable[[StackSpec], ServingStack]) -> None:
    # Cluster-wide watches, as shipped: the ClusterRole's list/watch in every namespace is used.
    stack = serving_stack(StackSpec(replicas=1, autoscaler=BURST, watch_all_namespaces=True))
    timeline = Timeline(stack)
    timeline.until(lambda s: s.reason == "Steady" and s.emulated == 1, 40, "a steady replica before the burst")

    burst = BackgroundReplay(stack.service_url, TraceSlice(rate_multiplier=30, duration_s=25, max_requests=400))
    burst.start()
    up = timeline.until(lambda s: (s.replicas or 0) >= 2, 60, "a scale-up during the burst")
    print(f"scaled to {up.replicas} at t={up.t:.1f} s (reason {up.reason})")
    # The new pods become Ready after KWOK's delay and the bridge serves them as replicas.
    timeline.until(
        lambda s: s.ready == s.replicas and s.emulated == s.replicas, E2E_POD_READY_DELAY_S + 30, "new replicas Ready"
    )
    summary = burst.join(120)
    print(f"burst: {summary.requests} requests, {summary.ok} ok, peak {timeline.peak()} replicas")
    assert summary.ok == summary.requests, summary.by_status
    assert 2 <= timeline.peak() <= MAX_REPLICAS

    ups = scale_events(stack.api, stack.namespace)
    assert ups and all(e.reason in ("ScaleUp", "PanicScaleUp") for e in ups), ups
    assert all(e.reporting_instance == stack.controller.identity for e in ups)
    assert any("1 -> " in e.message for e in ups), [e.message for e in ups]
    wait_for(lambda: stack.status().get("currentReplicas") == stack.replicas(), 10, "the status to follow")
    mine = {"namespace": stack.namespace, "deployment": stack.deployment, "direction": "up"}
    assert stack.controller.metric("tokenscale_scale_events_total", mine) == len(ups)
    # Prometheus scrapes the controller too: its published count is there.
    published = f'tokenscale_current_replicas{{namespace="{stack.namespace}", deployment="{stack.deployment}"}}'
    wait_for(lambda: stack.prometheus_value(published) == stack.replicas(), 10, "the controller's series in Prometheus")


def test_idle_replicas_scale_down_after_the_stabilization_window(
    serving_stack: Callable[[StackSpec], ServingStack],
) -> None:
    stack = serving_stack(StackSpec(replicas=3, autoscaler=IDLE_AT_THREE))
    timeline = Timeline(stack)
    # Three idle replicas: the recommendation is 1, held by the window first.
    first = timeline.until(
        lambda s: s.reason in ("ScaleDownStabilizing", "ScaleDown"), 60, "an idle decision at three replicas"
    )
    assert first.reason == "ScaleDownStabilizing", timeline.tail()
    assert first.replicas == 3
    down = timeline.until(lambda s: s.replicas == 1, SCALE_DOWN_WINDOW_S + 30, "the scale-down to 1")
    held_s = down.t - first.t
    print(f"held {held_s:.1f} s at 3 replicas (window {SCALE_DOWN_WINDOW_S} s) before scaling down to 1")
    assert held_s >= SCALE_DOWN_WINDOW_S - 2  # first idle sample may lag the first idle tick by ~1 s
    timeline.until(lambda s: s.emulated == 1 and s.ready == 1, 30, "the emulated fleet down to 1 replica")
    stays = timeline.during(4)
    assert all(s.replicas == 1 for s in stays), timeline.tail()  # minReplicas holds; no flapping

    downs = scale_events(stack.api, stack.namespace)
    assert [e.reason for e in downs] == ["ScaleDown"], downs
    assert "3 -> 1" in downs[0].message
    assert all(s.replicas in (3, 1) for s in timeline.samples), "one step, straight from 3 to 1"
