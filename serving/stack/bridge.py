"""Keep the vLLM emulator's replicas equal to a cluster's ready pods.

In a real cluster a pod *is* a vLLM server. Locally the pods are fake (in-memory or KWOK) and the
emulator hosts one replica per ready pod on a loopback port, labelled with the pod's namespace,
name and Deployment so Prometheus attributes its series the way a PodMonitor would. Nothing ever
connects to a fake pod IP: the bridge only talks to the emulator's admin API on 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from serving.stack.ports import LOOPBACK

log = logging.getLogger(__name__)


class EmulatorBridge:
    def __init__(self, admin_url: str, extra_labels: Mapping[str, str] | None = None, drain_timeout_s: float = 30.0):
        host = urllib.parse.urlparse(admin_url).hostname
        if host != LOOPBACK:
            raise ValueError(f"admin_url: the emulator must be on {LOOPBACK}, got {admin_url!r}")
        self._url = admin_url.rstrip("/")
        self._extra = dict(extra_labels or {})
        self._drain_timeout_s = drain_timeout_s
        self._lock = threading.Lock()

    def _call(self, method: str, path: str, body: Any = None, timeout_s: float = 10.0) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self._url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def replicas(self) -> list[dict[str, Any]]:
        answer = self._call("GET", "/admin/replicas")
        replicas: list[dict[str, Any]] = answer["replicas"] if isinstance(answer, dict) else answer
        return replicas

    def sync(self, namespace: str, deployment: str, ready_pods: Sequence[str]) -> None:
        """Add a replica for every ready pod that has none; drain and remove the others."""
        with self._lock:
            mine = {
                r["name"]: r
                for r in self.replicas()
                if r.get("labels", {}).get("namespace") == namespace
                and r.get("labels", {}).get("deployment") == deployment
            }
            wanted = set(ready_pods)
            for pod in sorted(wanted - set(mine)):
                labels = {"namespace": namespace, "pod": pod, "deployment": deployment, **self._extra}
                self._call("POST", "/admin/replicas", {"name": pod, "labels": labels})
                log.info("emulated replica for pod %s/%s started", namespace, pod)
            for pod in sorted(set(mine) - wanted):
                timeout = self._drain_timeout_s
                self._call("DELETE", f"/admin/replicas/{pod}?drain=1&timeout_s={timeout:g}", timeout_s=timeout + 10)
                log.info("emulated replica for pod %s/%s stopped", namespace, pod)

    def sync_quietly(self, namespace: str, deployment: str, ready_pods: Sequence[str]) -> None:
        try:
            self.sync(namespace, deployment, ready_pods)
        except (urllib.error.URLError, OSError, KeyError, ValueError) as exc:
            log.warning("emulator bridge: could not sync %s/%s: %s", namespace, deployment, exc)
