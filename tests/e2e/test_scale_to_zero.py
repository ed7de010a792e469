"""Scale to zero after the idle grace period (only with the activator in the path), and wake from
zero on demand: a request held by the activator -> wake Lease renewed -> controller scales the
Deployment -> KWOK pod Ready after the delay -> EndpointSlice ready and emulated replica added ->
the activator releases the held requests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp
import pytest
from kubernetes import client

from serving.stack.ports import LOOPBACK
from serving.stack.sockets import listening_sockets
from tests.e2e.autoscalers import quick_spec, scale_events
from tests.e2e.conftest import E2E_POD_READY_DELAY_S
from tests.e2e.kube_helpers import wait_for
from tests.e2e.shipped import WAKE_LEASE
from tests.e2e.stack import MODEL, ServingStack, StackSpec
from tests.e2e.timeline import Timeline

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

IDLE_GRACE_S = 6
TO_ZERO = quick_spec(
    min_replicas=0,
    max_replicas=2,
    scaleDown={"stabilizationWindowSeconds": 2},
    scaleToZero={"idleGracePeriodSeconds": IDLE_GRACE_S},
)
HELD_REQUESTS = 6
WOKEN = 2  # ceil(6 held requests / 3 per replica)


def test_no_scale_to_zero_without_an_activator(serving_stack: Callable[[StackSpec], ServingStack]) -> None:
    stack = serving_stack(StackSpec(replicas=1, autoscaler=TO_ZERO, activator=False))
    timeline = Timeline(stack)
    blocked = timeline.until(
        lambda s: s.reason == "ScaleToZeroBlockedNoActivator", IDLE_GRACE_S + 40, "the scale-to-zero refusal"
    )
    assert blocked.replicas == 1
    assert all(s.replicas == 1 for s in timeline.during(3)), timeline.tail()
    limited = stack.condition("ScalingLimited")
    assert limited is not None and limited["reason"] == "ScaleToZeroBlockedNoActivator", limited
    warnings = stack.events("ScaleToZeroBlockedNoActivator")
    assert warnings and warnings[0].type == "Warning"
    assert scale_events(stack.api, stack.namespace) == []


def test_idle_target_scales_to_zero_after_the_grace_period(serving_stack: Callable[[StackSpec], ServingStack]) -> None:
    stack = serving_stack(StackSpec(replicas=1, autoscaler=TO_ZERO, activator=True))
    timeline = Timeline(stack)
    timeline.until(lambda s: s.emulated == 1 and s.reason == "Steady", 40, "an idle serving replica")
    idle_from = timeline.samples[-1].t
    zero = timeline.until(lambda s: s.replicas == 0, IDLE_GRACE_S + 30, "the scale to zero")
    waited = zero.t - idle_from
    print(f"scaled to zero {waited:.1f} s after the first idle decision (grace {IDLE_GRACE_S} s)")
    assert waited >= IDLE_GRACE_S - 1.5
    timeline.until(lambda s: s.ready == 0 and s.emulated == 0, 30, "no pod and no emulated replica")
    at_zero = timeline.until(lambda s: s.reason == "IdleAtZero", 15, "IdleAtZero")
    assert at_zero.replicas == 0
    assert all(s.replicas == 0 for s in timeline.during(3)), "stays at zero without demand"

    (event,) = scale_events(stack.api, stack.namespace)
    assert event.reason == "ScaleToZero" and "1 -> 0" in event.message, event
    assert event.reporting_instance == stack.controller.identity
    assert stack.controller.metric("tokenscale_scaled_to_zero", {"deployment": stack.deployment}) == 1.0
    # The activator followed the engine Service's EndpointSlices on the API server, as its
    # ServiceAccount with the shipped Role: ready at start, none once the pod was gone.
    assert stack.activator is not None
    activator_log = stack.activator.process.log_tail(50_000)
    assert "ready endpoints: 0 -> 1" in activator_log and "ready endpoints: 1 -> 0" in activator_log
    # The activator's demand gauge exists at zero: that is what the controller sees there.
    assert stack.prometheus_value(f'tokenscale_activator_requests_pending{{namespace="{stack.namespace}"}}') == 0.0


async def _send_held(url: str, n: int) -> list[tuple[int, float]]:
    """n completions at once through the activator; (status, seconds) each."""
    body = {"model": MODEL, "prompt": "hello " * 20, "max_tokens": 16, "min_tokens": 16}
    timeout = aiohttp.ClientTimeout(total=90)

    async def one(session: aiohttp.ClientSession) -> tuple[int, float]:
        sent = time.monotonic()
        async with session.post(f"{url}/v1/completions", json=body) as response:
            answer = await response.json()
            assert response.status != 200 or answer["usage"]["completion_tokens"] == 16, answer
            return response.status, time.monotonic() - sent

    async with aiohttp.ClientSession(timeout=timeout) as session:
        return await asyncio.gather(*(one(session) for _ in range(n)))


def test_wake_from_zero_through_the_activator(serving_stack: Callable[[StackSpec], ServingStack]) -> None:
    # The whole real path: the activator holds until the engine Service's EndpointSlice says a pod
    # is Ready; the bridge starts the pod's emulated server when the pod is bound, so a released
    # request always finds it serving (as a real container's server exists before readiness).
    spec = StackSpec(replicas=0, autoscaler=TO_ZERO, activator=True, activator_endpoints="endpointslices")
    stack = serving_stack(spec)
    assert stack.activator is not None
    timeline = Timeline(stack)
    timeline.until(lambda s: s.reason == "IdleAtZero", 40, "IdleAtZero before any demand")
    assert stack.replicas() == 0 and stack.emulated_replicas() == []

    started = time.monotonic()
    answers = asyncio.run(_send_held(stack.activator.url, HELD_REQUESTS))
    wake_s = max(seconds for _, seconds in answers)
    print(
        f"wake from zero: {HELD_REQUESTS} held requests answered after {min(s for _, s in answers):.2f}-"
        f"{wake_s:.2f} s (pod-ready delay {E2E_POD_READY_DELAY_S:.0f} s, controller interval 1 s)"
    )
    assert [status for status, _ in answers] == [200] * HELD_REQUESTS, answers
    assert time.monotonic() - started < 30
    # Faster than waiting for a scrape and a tick after the activator's metric would allow, yet
    # never faster than the pod start-up: the requests really waited for the new pod.
    assert E2E_POD_READY_DELAY_S <= wake_s < E2E_POD_READY_DELAY_S + 10

    # Sized by what waited: 6 held requests at 3 per replica.
    assert stack.replicas() == WOKEN
    # The first renewal carries the first held request (0 -> 1, or 0 -> 2 if all six were held by
    # then); renewals while the pod starts top the count up to what is held (1 -> 2).
    wakes = scale_events(stack.api, stack.namespace)
    assert {e.reason for e in wakes} == {"WakeFromZero"}, wakes
    (first,) = [e for e in wakes if e.message.startswith("0 -> ")]
    assert "activator wake signal" in first.message, "woken by the Lease poke, not by a scrape"
    assert all(e.reporting_instance == stack.controller.identity for e in wakes)
    lease = client.CoordinationV1Api(stack.api).read_namespaced_lease(WAKE_LEASE, stack.namespace)
    assert lease.spec.holder_identity == "vllm-activator-0"
    assert lease.spec.renew_time is not None
    # The controller measured the wake too (poke received -> first tick that sees a ready replica).
    labels = {"deployment": stack.deployment}
    wait_for(
        lambda: stack.controller.metric("tokenscale_wake_duration_seconds_count", labels) == 1.0,
        timeout_s=10,
        what="the controller's wake-duration observation",
    )
    measured = stack.controller.metric("tokenscale_wake_duration_seconds_sum", labels)
    assert measured is not None and E2E_POD_READY_DELAY_S <= measured < wake_s + 2
    print(f"controller-measured wake duration: {measured:.2f} s")
    timeline.until(lambda s: s.reason in {"Steady", "ScaleDownStabilizing"}, 20, "serving after the wake")

    # Every server of the stack (controller, activator, emulator and its replicas, Prometheus)
    # listens on loopback only.
    procs = stack.processes()
    listeners = listening_sockets(p.pid for p in procs if p.alive())
    assert {s.pid for s in listeners} == {p.pid for p in procs}, listeners
    assert {s.address for s in listeners} == {LOOPBACK}, listeners
