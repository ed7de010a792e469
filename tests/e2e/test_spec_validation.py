"""An invalid InferenceAutoscaler is caught one of two ways, and either way the field is named:
the CRD's schema rejects what it can at admission (HTTP 422 from the API server, kubectl's error),
and the controller reports the rest in the SpecValid condition with the field and the value, holds
the target, and resumes once the spec is fixed."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from scaler.spec import GROUP, PLURAL, VERSION
from serving.stack.kwok import KwokCluster
from tests.e2e import kubectl
from tests.e2e.autoscalers import autoscaler_body, patch_autoscaler_spec, scale_events
from tests.e2e.stack import AUTOSCALER, ServingStack, StackSpec, install_crd, wait_for_reason

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

VALID: dict[str, Any] = {"minReplicas": 1, "maxReplicas": 2}

# (spec overrides, what the API server's message must contain: the field path and the problem)
SCHEMA_CASES: list[tuple[dict[str, Any], tuple[str, ...]]] = [
    ({"maxReplicas": 0}, ("spec.maxReplicas", "greater than or equal to 1")),
    ({"minReplicas": -1}, ("spec.minReplicas", "greater than or equal to 0")),
    ({"signals": [{"type": "QueueDepth", "targetPerReplica": 4}]}, ("spec.signals[0].type", "Unsupported value")),
    ({"signals": [{"type": "RunningRequests", "targetPerReplica": 0}]}, ("spec.signals[0].targetPerReplica",)),
    ({"minReplicas": 3, "maxReplicas": 2}, ("spec", "maxReplicas must be at least minReplicas")),
    ({"signals": [{"type": "KVCacheUsage", "targetPerReplica": 1.5}]}, ("spec.signals[0]", "must be at most 1")),
    ({"behavior": {"scaleDown": {"selectPolicy": "Sometimes"}}}, ("spec.behavior.scaleDown.selectPolicy",)),
]


def _message(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body or "{}").get("message", exc.body))
    except ValueError:
        return str(exc.body)


@pytest.mark.parametrize(("overrides", "expected"), SCHEMA_CASES, ids=[c[1][0] for c in SCHEMA_CASES])
def test_the_schema_rejects_it_with_422_naming_the_field(
    kube_cluster: KwokCluster,
    kube_api: client.ApiClient,
    namespace: str,
    overrides: Mapping[str, Any],
    expected: tuple[str, ...],
) -> None:
    install_crd(kube_cluster)
    body = autoscaler_body("bad", "vllm", {**VALID, **overrides})
    with pytest.raises(ApiException) as rejected:
        client.CustomObjectsApi(kube_api).create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    assert rejected.value.status == 422
    message = _message(rejected.value)
    for part in expected:
        assert part in message, message


def test_kubectl_names_the_field_and_rejects_unknown_ones(kube_cluster: KwokCluster, namespace: str) -> None:
    install_crd(kube_cluster)
    bad = autoscaler_body("bad", "vllm", {**VALID, "maxReplicas": 0})
    result = kubectl.apply(kube_cluster, [bad], namespace=namespace)
    assert not result.ok
    assert "spec.maxReplicas" in result.stderr and "Invalid value: 0" in result.stderr, result.stderr
    typo = autoscaler_body("typo", "vllm", {**VALID, "signalz": []})
    result = kubectl.apply(kube_cluster, [typo], namespace=namespace)
    assert not result.ok
    # Server-side apply builds a typed patch from the CRD's schema, so the typo never lands.
    assert ".spec.signalz: field not declared in schema" in result.stderr, result.stderr


def test_the_controller_reports_what_the_schema_cannot_check(
    serving_stack: Callable[[StackSpec], ServingStack],
) -> None:
    stack = serving_stack(StackSpec(replicas=1))
    # Both pass the schema: the window rule and the scale-to-zero/minReplicas rule are the
    # controller's (scaler/spec.py).
    invalid = {
        "minReplicas": 1,
        "maxReplicas": 2,
        "behavior": {
            "stableWindowSeconds": 10,
            "panicWindowSeconds": 30,
            "scaleToZero": {"idleGracePeriodSeconds": 60},
        },
    }
    stack.create_autoscaler(invalid)
    held = wait_for_reason(stack, {"HoldInvalidSpec"}, 20)
    assert held["desired"] is None
    spec_valid = stack.condition("SpecValid")
    assert spec_valid is not None and spec_valid["status"] == "False", spec_valid
    assert spec_valid["reason"] == "InvalidSpec"
    message = spec_valid["message"]
    assert "spec.behavior.panicWindowSeconds: must not exceed stableWindowSeconds, got 30" in message
    assert "spec.behavior.scaleToZero: has no effect unless spec.minReplicas is 0" in message
    active = stack.condition("ScalingActive")
    assert active is not None and active["status"] == "False" and active["reason"] == "HoldInvalidSpec"
    (warning,) = stack.events("HoldInvalidSpec")
    assert warning.type == "Warning" and "panicWindowSeconds" in warning.message
    assert stack.status()["reason"] == "HoldInvalidSpec"

    # Fixed in place: the controller validates the new generation and decides again.
    patch_autoscaler_spec(
        stack.api, stack.namespace, AUTOSCALER, {"behavior": {"panicWindowSeconds": 5, "scaleToZero": None}}
    )
    wait_for_reason(stack, {"Steady"}, 30)
    spec_valid = stack.condition("SpecValid")
    assert spec_valid is not None and spec_valid["status"] == "True", spec_valid
    assert stack.replicas() == 1
    assert scale_events(stack.api, stack.namespace) == []
