"""GPU capacity exhausted: the pod the controller asked for stays Pending (Unschedulable, scheduler
message naming nvidia.com/gpu). The controller must not keep adding replicas nobody can place: it
holds the count, says why in the CapacityAvailable condition and a Warning Event, and resumes
once capacity is back."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from kubernetes import client

from tests.e2e.autoscalers import quick_spec
from tests.e2e.conftest import E2E_GPU_NODES, E2E_GPUS_PER_NODE
from tests.e2e.kube_helpers import gpu_deployment
from tests.e2e.load import SustainedLoad
from tests.e2e.stack import MODEL, ServingStack, StackSpec
from tests.e2e.timeline import Timeline

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

TOTAL_GPUS = E2E_GPU_NODES * E2E_GPUS_PER_NODE
FILLER = "gpu-filler"
GREEDY = quick_spec(
    min_replicas=1,
    max_replicas=4,
    running_per_replica=2,
    stable_window_s=6,
    # One pod per second at most: without the guard, 1 -> 2 -> 3 -> 4 within seconds.
    scaleUp={"policies": [{"type": "Pods", "value": 1, "periodSeconds": 1}]},
    scaleDown={"stabilizationWindowSeconds": 600},
)


def test_exhausted_gpus_hold_the_count_and_say_why(serving_stack: Callable[[StackSpec], ServingStack]) -> None:
    stack = serving_stack(StackSpec(replicas=1, autoscaler=GREEDY))
    apps = client.AppsV1Api(stack.api)
    # Every GPU but the engine's own is taken by another workload.
    apps.create_namespaced_deployment(stack.namespace, gpu_deployment(FILLER, TOTAL_GPUS - 1))
    timeline = Timeline(stack)
    timeline.until(lambda s: s.reason == "Steady" and s.emulated == 1, 40, "one steady replica")

    SustainedLoad(stack.service_url, n=12, output_tokens=4000, model=MODEL).start()  # wants 6 > max 4
    blocked = timeline.until(
        lambda s: s.reason == "ScaleUpBlockedUnschedulable", 40, "the scale-up blocked on unschedulable pods"
    )
    assert blocked.replicas == 2, timeline.tail()
    held = timeline.during(12)
    assert all(s.replicas == 2 for s in held), f"runaway scale-up:\n{timeline.tail(30)}"
    assert all(s.ready == 1 for s in held)

    decision = stack.controller.decision(stack.namespace, stack.deployment) or {}
    assert "Insufficient nvidia.com/gpu" in decision["message"], decision
    capacity = stack.condition("CapacityAvailable")
    assert capacity is not None and capacity["status"] == "False", capacity
    assert capacity["reason"] == "GPUCapacityExhausted"
    assert "nvidia.com/gpu" in capacity["message"]
    warnings = stack.events("ScaleUpBlockedUnschedulable")
    assert warnings and all(w.type == "Warning" for w in warnings), warnings
    assert "Insufficient nvidia.com/gpu" in warnings[0].message
    # Recorded when the target enters the state, not on each of the ~15 ticks spent in it.
    assert sum(w.count for w in warnings) <= 2, warnings
    assert stack.controller.metric("tokenscale_unschedulable_pods", {"deployment": stack.deployment}) == 1.0
    ups = [e for e in stack.events() if e.reason in ("ScaleUp", "PanicScaleUp")]
    assert len(ups) == 1 and "1 -> 2" in ups[0].message, ups

    # Capacity comes back: the Pending pod is placed, then scaling resumes up to maxReplicas.
    apps.patch_namespaced_deployment_scale(FILLER, stack.namespace, {"spec": {"replicas": TOTAL_GPUS - 4}})
    resumed = timeline.until(lambda s: (s.replicas or 0) >= 3, 40, "scale-up resuming with free GPUs")
    print(f"capacity back: scaled to {resumed.replicas} at t={resumed.t:.1f} s")
    timeline.until(lambda s: s.ready == s.replicas == 4, 40, "four ready replicas")
    capacity = stack.condition("CapacityAvailable")
    assert capacity is not None and capacity["status"] == "True", capacity
