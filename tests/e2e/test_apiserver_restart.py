"""The API server restarted under a running controller, gracefully (SIGTERM) or as a crash (SIGKILL):
while its watch caches are broken it holds (HoldKubernetesView) instead of deciding from a view it
cannot trust, it recovers on its own once the server is back, and the outage causes no scale change."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.e2e.autoscalers import quick_spec, scale_events
from tests.e2e.stack import ServingStack, StackSpec, wait_for_reason
from tests.e2e.timeline import BackgroundSampler

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

SPEC = quick_spec(min_replicas=2, max_replicas=4)


@pytest.mark.parametrize("graceful", [True, False], ids=["sigterm", "sigkill"])
def test_apiserver_restart_holds_then_recovers_without_a_wrong_decision(
    serving_stack: Callable[[StackSpec], ServingStack], graceful: bool
) -> None:
    stack = serving_stack(StackSpec(replicas=2, autoscaler=SPEC))
    wait_for_reason(stack, {"Steady"}, 40)
    holds_before = stack.controller.metric("tokenscale_decisions_total", {"reason": "HoldKubernetesView"}) or 0.0
    recorder = BackgroundSampler(lambda: stack.controller.decision(stack.namespace, stack.deployment))
    recorder.start("decisions")
    try:
        restarted = time.monotonic()
        timing = stack.cluster.restart_apiserver(graceful=graceful)
        back = time.monotonic()
        resumed = wait_for_reason(stack, {"Steady"}, 60)
        time.sleep(3)  # decisions after recovery are recorded too
    finally:
        recorder.stop()
    assert resumed["current"] == 2
    holds = [at for at, row in recorder.samples if row["reason"] == "HoldKubernetesView"]
    assert holds, "no HoldKubernetesView seen"
    recovered = next(at for at, row in recorder.samples if at > holds[-1] and row["reason"] == "Steady")
    print(
        f"apiserver {'SIGTERM' if graceful else 'SIGKILL'} restart: down+up {timing.total_s:.1f} s (stop {timing.stop_s:.1f} s, start {timing.start_s:.1f} s); "
        f"controller held for {holds[-1] - holds[0]:.1f} s and decided again {recovered - back:+.1f} s "
        "from the API server's /readyz"
    )

    during = [row for at, row in recorder.samples if restarted <= at <= back]
    reasons = [row["reason"] for row in during]
    assert "HoldKubernetesView" in reasons, reasons
    # The hold names the broken watch caches and why (refused connections, then 403s while the
    # restarted server's RBAC caches fill).
    messages = [row["message"] for row in during if row["reason"] == "HoldKubernetesView"]
    assert all(f"(watch caches: inferenceautoscalers/{stack.namespace}" in m for m in messages), messages
    causes = ("API server unreachable: connection refused", "API error 403", "API server connection broken")
    assert all(m.startswith(causes) for m in messages), messages
    print(f"hold messages while the API server was away: {sorted(set(messages))}")
    # No wrong decision: every decision in the whole window kept the count (or held).
    wrong = [row for _, row in recorder.samples if row["desired"] not in (None, row["current"])]
    assert not wrong, wrong
    assert stack.replicas() == 2
    assert scale_events(stack.api, stack.namespace) == []
    holds_after = stack.controller.metric("tokenscale_decisions_total", {"reason": "HoldKubernetesView"}) or 0.0
    assert holds_after > holds_before
    assert stack.controller.process.alive()
    assert stack.controller.get("/healthz")[0] == 200
    active = stack.condition("ScalingActive")
    assert active is not None and active["status"] == "True", active
