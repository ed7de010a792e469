"""High availability: controller replicas with leader election on a coordination.k8s.io Lease.

Only the leader acts. When it dies (SIGKILL) a standby takes over within 15 s (lease 10 s + retry
2 s); when it is stopped (SIGTERM) it releases the Lease and the standby takes over at once. Over
the whole run tokenscale_leader is never 1 on two replicas at the same time, and every Event is
reported by the replica that was leading then.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.e2e.autoscalers import patch_autoscaler_spec, quick_spec, scale_events
from tests.e2e.controller import ControllerProcess
from tests.e2e.kube_helpers import wait_for
from tests.e2e.stack import AUTOSCALER, ServingStack, StackSpec
from tests.e2e.timeline import BackgroundSampler

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

LEASE = "tokenscale-controller"
FAILOVER_LIMIT_S = 15.0
SPEC = quick_spec(min_replicas=1, max_replicas=4, scaleDown={"stabilizationWindowSeconds": 0})


def leaders_seen(stack: ServingStack) -> dict[str, bool]:
    """Every replica's tokenscale_leader (a dead replica counts as 0)."""
    # A killed replica's port may be reused by the next one: ask the live ones only.
    return {c.identity: c.process.alive() and c.leader() for c in list(stack.controllers)}


def double_leaders(samples: list[tuple[float, dict[str, bool]]]) -> list[tuple[float, dict[str, bool]]]:
    return [(t, seen) for t, seen in samples if sum(seen.values()) > 1]


def holder(api: client.ApiClient, namespace: str) -> str | None:
    try:
        lease = client.CoordinationV1Api(api).read_namespaced_lease(LEASE, namespace)
    except ApiException:
        return None
    return lease.spec.holder_identity if lease.spec else None


def leading(stack: ServingStack, timeout_s: float, exclude: tuple[str, ...] = ()) -> ControllerProcess:
    """The one replica that holds the Lease and says so on /metrics."""

    def probe() -> ControllerProcess | None:
        name = holder(stack.api, stack.namespace)
        for c in stack.controllers:
            if c.identity == name and c.identity not in exclude and c.process.alive() and c.leader():
                return c
        return None

    return wait_for(probe, timeout_s=timeout_s, what="a leader on the Lease and on /metrics", poll_s=0.05)


def stale_claims(stack: ServingStack, stopping: ControllerProcess, timeout_s: float = 15.0) -> list[str | None]:
    """While `stopping` shuts down, read the Lease, then its /metrics, as fast as possible: the
    holders seen while it still said tokenscale_leader 1 although the Lease was no longer its own."""
    claims: list[str | None] = []
    deadline = time.monotonic() + timeout_s
    for _ in range(int(timeout_s / 0.005)):
        if not stopping.process.alive() or time.monotonic() > deadline:
            break
        name = holder(stack.api, stack.namespace)
        if name != stopping.identity and stopping.leader():
            claims.append(name)
    return claims


def scale_to_min(stack: ServingStack, replicas: int) -> None:
    """Raise minReplicas; wait for the scale and for its Event (recorded just after the /scale
    write: a leader killed in between would leave the scale without its Event)."""
    before = len(scale_events(stack.api, stack.namespace))
    patch_autoscaler_spec(stack.api, stack.namespace, AUTOSCALER, {"minReplicas": replicas})
    wait_for(lambda: stack.replicas() == replicas, timeout_s=20, what=f"{replicas} replicas")
    wait_for(lambda: len(scale_events(stack.api, stack.namespace)) > before, timeout_s=10, what="the scale Event")


def test_one_leader_acts_and_a_standby_takes_over(serving_stack: Callable[[StackSpec], ServingStack]) -> None:
    stack = serving_stack(StackSpec(replicas=1, autoscaler=SPEC, controllers=2, leader_elect=True))
    watch = BackgroundSampler(lambda: leaders_seen(stack)).start("leader-watch")
    try:
        first = leading(stack, 30)
        standby = next(c for c in stack.controllers if c is not first)
        assert not standby.leader()
        wait_for(lambda: first.decision(stack.namespace, stack.deployment), timeout_s=30, what="a first decision")
        scale_to_min(stack, 2)

        # Crash: the Lease expires on the standby's clock, then it takes over.
        killed_at = time.monotonic()
        first.process.signal(signal.SIGKILL)
        wait_for(
            lambda: holder(stack.api, stack.namespace) == standby.identity,
            timeout_s=FAILOVER_LIMIT_S + 5,
            what="the standby to take the Lease",
            poll_s=0.05,
        )
        lease_s = time.monotonic() - killed_at
        second = leading(stack, 5, exclude=(first.identity,))
        failover_s = time.monotonic() - killed_at
        print(
            f"failover after kill -9 of {first.identity}: {second.identity} holds the Lease after {lease_s:.1f} s "
            f"and acts (tokenscale_leader 1) after {failover_s:.1f} s"
        )
        assert second is standby
        # Lease: 10 s unchanged on the standby's own clock, checked every 2 s: 8-12 s after the
        # kill; acting: at its next tick (1 s).
        assert failover_s < FAILOVER_LIMIT_S
        scale_to_min(stack, 3)

        # A new standby, then a graceful stop of the leader: the Lease is released, no wait.
        third = stack.start_controller("tokenscale-controller-2", port=first.port)
        third.process.wait_until(third.ready, 30, "the new standby ready")
        time.sleep(2.5)  # one retry period: the standby has seen the Lease held
        assert not third.leader()
        stopped_at = time.monotonic()
        second.process.signal(signal.SIGTERM)
        claims = stale_claims(stack, second)
        assert not claims, f"{second.identity} still claimed leadership after releasing the Lease: {claims[:3]}"
        successor = leading(stack, 10, exclude=(first.identity, second.identity))
        takeover_s = time.monotonic() - stopped_at
        print(f"takeover after SIGTERM of {second.identity} (Lease released): {takeover_s:.1f} s")
        assert successor is third
        assert takeover_s < 5.0
        assert second.process.popen.wait(10) == 0
        patch_autoscaler_spec(stack.api, stack.namespace, AUTOSCALER, {"minReplicas": 2})
        wait_for(lambda: stack.replicas() == 2, timeout_s=20, what="the scale-down by the new leader")
        time.sleep(1)
    finally:
        watch.stop()

    assert len(watch.samples) > 50
    assert not double_leaders(watch.samples), double_leaders(watch.samples)[:5]
    reporters = [(e.reason, e.reporting_instance) for e in scale_events(stack.api, stack.namespace)]
    assert reporters == [
        ("BelowMinReplicas", first.identity),
        ("BelowMinReplicas", second.identity),
        ("ScaleDown", third.identity),
    ], reporters
    # Warnings and everything else too: only ever from a replica while it led.
    assert {e.reporting_instance for e in stack.events()} <= {first.identity, second.identity, third.identity}
    lease = client.CoordinationV1Api(stack.api).read_namespaced_lease(LEASE, stack.namespace)
    assert lease.spec.holder_identity == third.identity
    assert (lease.spec.lease_transitions or 0) >= 2
