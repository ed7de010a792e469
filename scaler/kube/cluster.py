"""The real cluster: watch caches for autoscalers, Deployments, Pending pods and wake Leases."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kubernetes import client

from metrics.request_record import WAKE_LEASE_LABEL, WAKE_PENDING_ANNOTATION
from scaler.kube.informer import Informer, Raw
from scaler.kube.targets import TargetInfo, build_targets
from scaler.kube.writer import KubeWriter, ScaleResult
from scaler.observation import WakePoke
from scaler.spec import GROUP, PLURAL, VERSION

log = logging.getLogger(__name__)
#: A wake Lease renewed this recently when the controller (re)starts still counts as a poke.
RECENT_WAKE_S = 30.0


def _parse_time(raw: Any) -> float | None:
    if not raw:
        return None
    text = str(raw).replace("Z", "+00:00")
    try:
        return dt.datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


class KubernetesCluster:
    def __init__(
        self,
        api: client.ApiClient,
        *,
        identity: str,
        namespaces: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._writer = KubeWriter(api, identity=identity, clock=clock)
        apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
        custom, coord = client.CustomObjectsApi(api), client.CoordinationV1Api(api)
        self._poke_lock = threading.Lock()
        self._pokes: dict[tuple[str, str], WakePoke] = {}
        self._seen_renewals: dict[tuple[str, str], float] = {}
        self._poke_callbacks: list[Callable[[], None]] = []
        scopes: Sequence[str | None] = list(namespaces) or [None]
        self._autoscalers: list[Informer] = []
        self._deployments: list[Informer] = []
        self._pods: list[Informer] = []
        self._leases: list[Informer] = []
        for ns in scopes:
            suffix = ns or "all"
            if ns is None:
                list_ias: Any = functools.partial(custom.list_cluster_custom_object, GROUP, VERSION, PLURAL)
                list_deps: Any = apps.list_deployment_for_all_namespaces
                list_pods: Any = core.list_pod_for_all_namespaces
                list_leases: Any = coord.list_lease_for_all_namespaces
            else:
                list_ias = functools.partial(custom.list_namespaced_custom_object, GROUP, VERSION, ns, PLURAL)
                list_deps = functools.partial(apps.list_namespaced_deployment, ns)
                list_pods = functools.partial(core.list_namespaced_pod, ns)
                list_leases = functools.partial(coord.list_namespaced_lease, ns)
            self._autoscalers.append(Informer(f"inferenceautoscalers/{suffix}", list_ias))
            self._deployments.append(Informer(f"deployments/{suffix}", list_deps))
            # Only Pending pods matter (capacity and scheduling); the field selector keeps the
            # cache small, and a pod leaving Pending arrives as a DELETED event.
            self._pods.append(Informer(f"pending-pods/{suffix}", list_pods, field_selector="status.phase=Pending"))
            self._leases.append(
                Informer(
                    f"wake-leases/{suffix}", list_leases, label_selector=WAKE_LEASE_LABEL, on_event=self._lease_event
                )
            )

    @property
    def informers(self) -> list[Informer]:
        return [*self._autoscalers, *self._deployments, *self._pods, *self._leases]

    def start(self, sync_timeout_s: float = 30.0) -> bool:
        for informer in self.informers:
            informer.start()
        deadline = time.monotonic() + sync_timeout_s
        return all(i.wait_synced(max(0.0, deadline - time.monotonic())) for i in self.informers)

    def stop(self) -> None:
        for informer in self.informers:
            informer.stop()

    # --- ClusterPort ---------------------------------------------------------------------------
    def healthy(self) -> tuple[bool, str]:
        # When the API server is away every cache fails the same way: say it once, then name them.
        by_cause: dict[str, list[str]] = {}
        for informer in self.informers:
            cause = informer.cause  # read once: the cache may recover between two reads
            if cause:
                by_cause.setdefault(cause, []).append(informer.name)
        problems = [f"{cause} (watch caches: {', '.join(names)})" for cause, names in by_cause.items()]
        return (not problems, "; ".join(problems))

    def targets(self) -> list[TargetInfo]:
        healthy, problem = self.healthy()
        deployments: dict[tuple[str, str], Raw] = {}
        for informer in self._deployments:
            deployments.update(informer.by_key())
        pods = [p for informer in self._pods for p in informer.items()]
        autoscalers = [a for informer in self._autoscalers for a in informer.items()]
        return build_targets(autoscalers, deployments, pods, healthy, problem)

    def scale(self, target: TargetInfo, from_replicas: int, to_replicas: int) -> ScaleResult:
        return self._writer.scale(
            target.autoscaler.namespace, target.target_kind, target.target_name, from_replicas, to_replicas
        )

    def write_status(self, target: TargetInfo, status: Mapping[str, Any]) -> None:
        self._writer.write_status(target.autoscaler, status)

    def emit_event(self, target: TargetInfo, event_type: str, reason: str, message: str) -> None:
        self._writer.emit_event(target.autoscaler, event_type, reason, message)

    def take_pokes(self) -> dict[tuple[str, str], WakePoke]:
        with self._poke_lock:
            pokes, self._pokes = self._pokes, {}
        return pokes

    def on_poke(self, callback: Callable[[], None]) -> None:
        self._poke_callbacks.append(callback)

    # --- wake Leases ---------------------------------------------------------------------------
    def _lease_event(self, kind: str, lease: Raw) -> None:
        if kind == "DELETED":
            return
        meta = lease.get("metadata") or {}
        deployment = (meta.get("labels") or {}).get(WAKE_LEASE_LABEL)
        renewed = _parse_time((lease.get("spec") or {}).get("renewTime"))
        if not deployment or renewed is None:
            return
        key = (meta.get("namespace", ""), deployment)
        now = self._clock()
        if kind == "SYNC" and now - renewed > RECENT_WAKE_S:
            self._seen_renewals[key] = renewed
            return
        if self._seen_renewals.get(key, 0.0) >= renewed:
            return
        self._seen_renewals[key] = renewed
        try:
            pending = int((meta.get("annotations") or {}).get(WAKE_PENDING_ANNOTATION, "1"))
        except ValueError:
            pending = 1
        with self._poke_lock:
            # The receipt time, not the activator's clock, starts the wake-duration measurement.
            self._pokes[key] = WakePoke(at=now, pending=max(pending, 1))
        log.info("wake signal for %s/%s (%d pending)", key[0], key[1], pending)
        for callback in self._poke_callbacks:
            callback()
