"""The target Deployment deleted and recreated under a live autoscaler: while it is gone the
controller says so (HoldTargetMissing, AbleToScale=False/TargetNotFound, a Warning Event) and
writes nothing; once it is back the controller decides about the new object from what the new
object shows, with nothing carried over from the deleted one (its demand window, recommendations
and scale history)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from kubernetes import client

from tests.e2e import kubectl
from tests.e2e.autoscalers import quick_spec, scale_events
from tests.e2e.load import SustainedLoad
from tests.e2e.shipped import engine_deployment
from tests.e2e.stack import MODEL, ServingStack, StackSpec
from tests.e2e.timeline import Timeline

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

SPEC = quick_spec(
    min_replicas=1,
    max_replicas=4,
    # Long enough that the deleted Deployment's busy samples are still inside the window when the
    # new one appears: a carried-over window would scale the idle newcomer up.
    stable_window_s=60,
    scaleDown={"stabilizationWindowSeconds": 120},
)


def test_deleted_then_recreated_target(serving_stack: Callable[[StackSpec], ServingStack]) -> None:
    stack = serving_stack(StackSpec(replicas=1, autoscaler=SPEC))
    timeline = Timeline(stack)
    timeline.until(lambda s: s.reason == "Steady" and s.emulated == 1, 40, "one steady replica")
    SustainedLoad(stack.service_url, n=9, output_tokens=4000, model=MODEL).start()
    busy = timeline.until(lambda s: (s.replicas or 0) >= 2, 30, "a scale-up under load")

    client.AppsV1Api(stack.api).delete_namespaced_deployment(stack.deployment, stack.namespace)
    gone = timeline.until(lambda s: s.reason == "HoldTargetMissing", 20, "HoldTargetMissing")
    assert gone.replicas is None
    # From here no /scale write can succeed until the target is back: every later scale Event
    # would be a decision about the new object.
    scaled_before = len(scale_events(stack.api, stack.namespace))
    decision = stack.controller.decision(stack.namespace, stack.deployment) or {}
    assert decision["message"] == f"Deployment {stack.namespace}/{stack.deployment} not found", decision
    absent = timeline.during(3)
    assert all(s.replicas is None and s.reason == "HoldTargetMissing" for s in absent), timeline.tail()
    able = stack.condition("AbleToScale")
    assert able is not None and able["status"] == "False" and able["reason"] == "TargetNotFound", able
    assert stack.deployment in able["message"]
    (warning,) = stack.events("HoldTargetMissing")
    assert warning.type == "Warning" and warning.reporting_instance == stack.controller.identity
    timeline.until(lambda s: s.emulated == 0, 30, "the deleted pods' emulated replicas gone (load cut)")

    # Recreated by hand, idle, with one replica.
    kubectl.apply(stack.cluster, [engine_deployment(stack.namespace, replicas=1)]).check()
    back = timeline.until(lambda s: s.ready == 1 and s.reason == "Steady", 40, "decisions on the new target")
    print(f"was at {busy.replicas} replicas; resumed on the recreated Deployment at t={back.t:.1f} s: {back.reason}")
    after = timeline.during(6)
    assert all(s.replicas == 1 for s in after), f"decided from the deleted Deployment's history:\n{timeline.tail(20)}"
    able = stack.condition("AbleToScale")
    assert able is not None and able["status"] == "True", able
    assert stack.status()["currentReplicas"] == 1
    assert len(scale_events(stack.api, stack.namespace)) == scaled_before  # nothing written since
