"""InferenceAutoscaler objects, their status and Events, and the target's replica counts, read
through the admin client (what `kubectl get/describe` would show)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from scaler.reasons import Reason
from scaler.spec import GROUP, KIND, PLURAL, VERSION


def quick_spec(
    *, min_replicas: int, max_replicas: int, running_per_replica: int = 3, stable_window_s: int = 4,
    **behavior: Any,
) -> dict[str, Any]:  # fmt: skip
    """A spec on RunningRequests with test-speed windows (2 s panic window, signals older than 10 s
    are stale); `behavior` adds or overrides fields of spec.behavior (scaleDown, scaleToZero, ...)."""
    return {
        "minReplicas": min_replicas,
        "maxReplicas": max_replicas,
        "signals": [{"type": "RunningRequests", "targetPerReplica": running_per_replica}],
        "behavior": {
            "stableWindowSeconds": stable_window_s,
            "panicWindowSeconds": 2,
            "maxSignalAgeSeconds": 10,
            **behavior,
        },
    }


def autoscaler_body(name: str, target: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {"name": name},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target}, **spec},
    }


def create_autoscaler(api: client.ApiClient, namespace: str, name: str, target: str, spec: Mapping[str, Any]) -> None:
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, autoscaler_body(name, target, spec)
    )


def patch_autoscaler_spec(api: client.ApiClient, namespace: str, name: str, spec: Mapping[str, Any]) -> None:
    client.CustomObjectsApi(api).patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name, {"spec": dict(spec)}
    )


def autoscaler_status(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    obj = client.CustomObjectsApi(api).get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    status: dict[str, Any] = obj.get("status") or {}
    return status


def condition(status: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    for entry in status.get("conditions") or []:
        if entry.get("type") == kind:
            found: dict[str, Any] = entry
            return found
    return None


@dataclass(frozen=True)
class EventView:
    type: str
    reason: str
    message: str
    count: int
    reporting_instance: str
    involved_kind: str
    involved_name: str
    first_seen: float  # unix seconds (Events carry second resolution)


def events(api: client.ApiClient, namespace: str, reason: str | None = None) -> list[EventView]:
    """core/v1 Events in the namespace about InferenceAutoscalers, oldest first."""
    found = []
    for e in client.CoreV1Api(api).list_namespaced_event(namespace).items:
        obj = e.involved_object
        if obj is None or obj.kind != KIND or (reason is not None and e.reason != reason):
            continue
        first = e.first_timestamp or e.event_time or e.metadata.creation_timestamp
        found.append(
            EventView(
                type=e.type or "",
                reason=e.reason or "",
                message=e.message or "",
                count=int(e.count or 1),
                reporting_instance=e.reporting_instance or "",
                involved_kind=obj.kind or "",
                involved_name=obj.name or "",
                first_seen=first.timestamp() if first is not None else 0.0,
            )
        )
    return sorted(found, key=lambda e: e.first_seen)


def spec_replicas(api: client.ApiClient, namespace: str, deployment: str) -> int | None:
    """The Deployment's spec.replicas; None when it does not exist."""
    try:
        scale = client.AppsV1Api(api).read_namespaced_deployment_scale(deployment, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return int(scale.spec.replicas or 0)


def ready_replicas(api: client.ApiClient, namespace: str, deployment: str) -> int:
    status = client.AppsV1Api(api).read_namespaced_deployment_status(deployment, namespace).status
    return int(status.ready_replicas or 0)


#: The reasons of decisions that change the count (scaler/reasons.py, "The count changes").
SCALE_REASONS = frozenset(
    r.value
    for r in (
        Reason.SCALE_UP, Reason.PANIC_SCALE_UP, Reason.SLO_SCALE_UP, Reason.SCALE_DOWN, Reason.SCALE_TO_ZERO,
        Reason.WAKE_FROM_ZERO, Reason.BELOW_MIN, Reason.ABOVE_MAX,
    )
)  # fmt: skip


def scale_events(api: client.ApiClient, namespace: str) -> list[EventView]:
    """The Normal Events the controller records when it writes /scale (scaler.reasons, count changes)."""
    return [e for e in events(api, namespace) if e.type == "Normal" and e.reason in SCALE_REASONS]
