"""Run one emulated vLLM replica for every running pod of the watched Deployments in a KWOK cluster.

KWOK pods are fake: they get a 10.x IP nobody serves. This watcher reads pod status from the API
server and keeps the emulator's replicas equal to the pods bound to a node and not terminating
(through `EmulatorBridge`, on 127.0.0.1). The replica starts when the pod is bound, not when it
turns Ready: a real container's server exists before the kubelet marks the pod Ready, and an
activator that releases requests on the EndpointSlice's ready flag must find it serving. It never
connects to a pod IP.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from kubernetes import client, watch

from serving.stack.bridge import EmulatorBridge

log = logging.getLogger(__name__)


def deployment_of(pod: Mapping[str, Any]) -> str | None:
    """The Deployment owning a pod: its ReplicaSet's name minus the pod-template-hash."""
    meta = pod.get("metadata") or {}
    template_hash = (meta.get("labels") or {}).get("pod-template-hash")
    for owner in meta.get("ownerReferences") or []:
        if owner.get("kind") == "ReplicaSet" and template_hash and owner.get("name", "").endswith(f"-{template_hash}"):
            return str(owner["name"])[: -len(template_hash) - 1]
    return None


def is_serving(pod: Mapping[str, Any]) -> bool:
    """Bound to a node, not terminating, not finished: its (emulated) server should be up."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    bound = bool((pod.get("spec") or {}).get("nodeName"))
    return bound and not meta.get("deletionTimestamp") and status.get("phase") in ("Pending", "Running")


class KwokPodBridge:
    """Watch pods in `namespace` (optionally only some Deployments) and mirror Ready ones."""

    def __init__(
        self,
        api: client.ApiClient,
        emulator: EmulatorBridge,
        namespace: str,
        deployments: Iterable[str] | None = None,
    ) -> None:
        self._core = client.CoreV1Api(api)
        self._emulator = emulator
        self._namespace = namespace
        self._only = set(deployments) if deployments is not None else None
        self._pods: dict[str, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._watch: watch.Watch | None = None
        self._thread = threading.Thread(target=self._run, name=f"kwok-bridge-{namespace}", daemon=True)
        self.syncs = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.stop()
        self._thread.join(10)

    def serving_pods(self) -> dict[str, list[str]]:
        ready: dict[str, list[str]] = {}
        for pod in self._pods.values():
            deployment = deployment_of(pod)
            if deployment is None or (self._only is not None and deployment not in self._only):
                continue
            names = ready.setdefault(deployment, [])
            if is_serving(pod):
                names.append(pod["metadata"]["name"])
        return ready

    def _sync(self) -> None:
        for deployment, pods in self.serving_pods().items():
            self._emulator.sync_quietly(self._namespace, deployment, sorted(pods))
        self.syncs += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                listed = self._core.list_namespaced_pod(self._namespace, _preload_content=False)
                body = json.loads(listed.data)
                self._pods = {p["metadata"]["name"]: p for p in body.get("items") or []}
                self._sync()
                self._watch = watch.Watch()
                for event in self._watch.stream(
                    self._core.list_namespaced_pod,
                    self._namespace,
                    resource_version=body["metadata"]["resourceVersion"],
                    timeout_seconds=120,
                    deserialize=False,
                ):
                    pod = event["object"]
                    name = pod["metadata"]["name"]
                    if event["type"] == "DELETED":
                        self._pods.pop(name, None)
                    else:
                        self._pods[name] = pod
                    self._sync()
                    if self._stop.is_set():
                        return
            except Exception as exc:  # API server restarting: list again after a pause
                log.info("kwok bridge %s: %s; relisting", self._namespace, str(exc)[:200])
                self._stop.wait(1.0)
