"""Writes to the API server: /scale, the autoscaler's status, and Events.

/scale is written with optimistic concurrency: read the Scale, check it still holds the count the
decision was made from, replace it with that resourceVersion, and on 409 Conflict read again (a
bounded number of times). If someone else changed the count meanwhile, the write is dropped and
the next tick decides from the new count, instead of blindly overwriting their change.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from scaler.kube.targets import ObjectRef
from scaler.spec import GROUP, KIND, PLURAL, VERSION

log = logging.getLogger(__name__)
COMPONENT = "tokenscale"
HTTP_CONFLICT = 409
HTTP_NOT_FOUND = 404


@dataclass(frozen=True)
class ScaleResult:
    applied: bool
    replicas: int  # the count the target has after the attempt
    detail: str = ""
    conflicts: int = 0


class TargetChanged(Exception):
    """The target's replica count is no longer the one the decision was made from."""


def _utc(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class KubeWriter:
    def __init__(
        self,
        api: client.ApiClient,
        *,
        identity: str,
        clock: Callable[[], float] = time.time,
        max_conflicts: int = 3,
        event_dedupe_s: float = 600.0,
    ) -> None:
        self._apps = client.AppsV1Api(api)
        self._core = client.CoreV1Api(api)
        self._custom = client.CustomObjectsApi(api)
        self._identity = identity
        self._clock = clock
        self._max_conflicts = max_conflicts
        self._event_dedupe_s = event_dedupe_s
        # (autoscaler uid, reason, message) -> (event name, count, last emitted)
        self._recent_events: dict[tuple[str, str, str], tuple[str, int, float]] = {}

    # --- /scale ------------------------------------------------------------------------------
    def scale(self, namespace: str, kind: str, name: str, expected: int, desired: int) -> ScaleResult:
        if kind != "Deployment":
            return ScaleResult(False, expected, f"scaleTargetRef.kind {kind!r} is not supported yet (Deployment only)")
        conflicts = 0
        while True:
            current = self._apps.read_namespaced_deployment_scale(name, namespace)
            have = int(current.spec.replicas or 0)
            if have != expected:
                return ScaleResult(False, have, f"replicas changed to {have} since the decision (expected {expected})")
            current.spec.replicas = desired
            try:
                self._apps.replace_namespaced_deployment_scale(name, namespace, current)
                return ScaleResult(True, desired, conflicts=conflicts)
            except ApiException as exc:
                if exc.status != HTTP_CONFLICT or conflicts >= self._max_conflicts:
                    raise
                conflicts += 1
                log.info("conflict writing %s/%s scale (attempt %d), re-reading", namespace, name, conflicts)
                time.sleep(0.05 * conflicts)

    # --- status ------------------------------------------------------------------------------
    def write_status(self, autoscaler: ObjectRef, status: Mapping[str, Any]) -> None:
        """Merge-patch the status subresource (a merge patch never conflicts)."""
        self._custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, autoscaler.namespace, PLURAL, autoscaler.name, {"status": dict(status)}
        )

    # --- events ------------------------------------------------------------------------------
    def emit_event(self, autoscaler: ObjectRef, event_type: str, reason: str, message: str) -> None:
        """Record an Event on the autoscaler; repeats within the dedupe window bump its count."""
        now = self._clock()
        message = message[:1000]
        key = (autoscaler.uid, reason, message)
        recent = self._recent_events.get(key)
        if recent is not None and now - recent[2] < self._event_dedupe_s:
            name, count, _ = recent
            body = {"count": count + 1, "lastTimestamp": _utc(now)}
            try:
                self._core.patch_namespaced_event(name, autoscaler.namespace, body)
                self._recent_events[key] = (name, count + 1, now)
                return
            except ApiException as exc:
                if exc.status != HTTP_NOT_FOUND:
                    raise
        event = client.CoreV1Event(
            metadata=client.V1ObjectMeta(generate_name=f"{autoscaler.name}.", namespace=autoscaler.namespace),
            involved_object=client.V1ObjectReference(
                api_version=f"{GROUP}/{VERSION}",
                kind=KIND,
                name=autoscaler.name,
                namespace=autoscaler.namespace,
                uid=autoscaler.uid or None,
            ),
            reason=reason,
            message=message,
            type=event_type,
            source=client.V1EventSource(component=COMPONENT),
            reporting_component=COMPONENT,
            reporting_instance=self._identity,
            first_timestamp=_utc(now),
            last_timestamp=_utc(now),
            count=1,
        )
        created = self._core.create_namespaced_event(autoscaler.namespace, event)
        self._recent_events[key] = (created.metadata.name, 1, now)
        if len(self._recent_events) > 10_000:  # bound memory on long runs
            cutoff = now - self._event_dedupe_s
            self._recent_events = {k: v for k, v in self._recent_events.items() if v[2] >= cutoff}


def micro_time(now: float) -> str:
    return _micro(now)
