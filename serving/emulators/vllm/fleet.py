"""The replicas one emulator process hosts: each on its own loopback port, plus a file_sd view of them."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from serving.emulators.vllm.metric_names import Naming
from serving.emulators.vllm.openai_api import build_replica_app
from serving.emulators.vllm.replica import EmulatedReplica, ReplicaSpec
from serving.engine import ReplicaConfig
from serving.stack.ports import LOOPBACK, free_port

# Labels a PodMonitor would attach, plus the Deployment the pod belongs to.
REQUIRED_LABELS = ("namespace", "pod", "deployment")
DRAIN_TIMEOUT_S = 30.0


# Kubernetes writes generated name suffixes in this vowel-free alphabet (no 0, 1 or 3 either); the
# catalog relies on it to tell a Deployment's pods from other pods, so emulated names use it too.
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def _safe(text: str, length: int) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:length])


def pod_name(deployment: str, index: int) -> str:
    """A Deployment-style pod name: <deployment>-<replicaset hash>-<5 chars>, stable per index."""
    return f"{deployment}-{_safe(deployment, 9)}-{_safe(f'{deployment}/{index}', 5)}"


def complete_labels(name: str, labels: dict[str, str]) -> dict[str, str]:
    """Fill namespace/pod/deployment when not given (default namespace, pod = replica name)."""
    out = dict(labels)
    out.setdefault("namespace", "default")
    out.setdefault("pod", name)
    out.setdefault("deployment", name)
    for key, value in out.items():
        if not key.replace("_", "a").isalnum() or key[0].isdigit() or key.startswith("__"):
            raise ValueError(f"label name {key!r} is not a valid Prometheus label name")
        if not isinstance(value, str):
            raise ValueError(f"label {key!r} must be a string, got {value!r}")
    return out


@dataclass(frozen=True, slots=True)
class ReplicaDefaults:
    """What a new replica gets unless the caller says otherwise."""

    config: ReplicaConfig
    model_name: str
    naming: Naming
    time_scale: float
    seed: int


class FileSdWriter:
    """Writes the replicas' /metrics targets as a Prometheus file_sd JSON file, atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, replicas: list[EmulatedReplica]) -> None:
        groups = [
            {"targets": [f"{LOOPBACK}:{replica.port}"], "labels": {"container": "vllm", **replica.spec.labels}}
            for replica in replicas
        ]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".file-sd-", suffix=".json", dir=self.path.parent)
        with os.fdopen(fd, "w") as handle:
            json.dump(groups, handle, indent=1, sort_keys=True)
        # rename() is atomic on one filesystem: Prometheus never reads half a file.
        Path(temp).replace(self.path)


class Fleet:
    """Adds, lists and removes replicas; tells listeners (file_sd, DCGM) when the set changes."""

    def __init__(self, defaults: ReplicaDefaults, file_sd: FileSdWriter | None = None) -> None:
        self.defaults = defaults
        self._replicas: dict[str, EmulatedReplica] = {}
        self._runners: dict[str, web.AppRunner] = {}
        self._file_sd = file_sd
        self._listeners: list[Callable[[list[EmulatedReplica]], None]] = []
        self._seeds = itertools.count(defaults.seed)
        self._round_robin = itertools.count()

    def replicas(self) -> list[EmulatedReplica]:
        return list(self._replicas.values())

    def get(self, name: str) -> EmulatedReplica | None:
        return self._replicas.get(name)

    def on_change(self, listener: Callable[[list[EmulatedReplica]], None]) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        replicas = self.replicas()
        if self._file_sd is not None:
            self._file_sd.write(replicas)
        for listener in self._listeners:
            listener(replicas)

    async def add(
        self,
        name: str,
        labels: dict[str, str],
        port: int | None = None,
        config: ReplicaConfig | None = None,
        model_name: str | None = None,
        startup_s: float = 0.0,
    ) -> EmulatedReplica:
        if not name or name in self._replicas:
            raise ValueError(f"replica name {name!r} is empty or already used")
        defaults = self.defaults
        spec = ReplicaSpec(
            name=name,
            config=config or defaults.config,
            model_name=model_name or defaults.model_name,
            labels=complete_labels(name, labels),
            naming=defaults.naming,
            time_scale=defaults.time_scale,
            startup_s=startup_s,
            seed=next(self._seeds),
        )
        port = free_port() if port is None else port
        replica = EmulatedReplica(spec, port)
        runner = web.AppRunner(build_replica_app(replica), access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, LOOPBACK, port).start()
        replica.start()
        self._replicas[name] = replica
        self._runners[name] = runner
        self._changed()
        return replica

    async def remove(self, name: str, drain: bool = True, timeout_s: float = DRAIN_TIMEOUT_S) -> bool:
        """Drain (bounded) then stop a replica; True if nothing was cut off."""
        replica = self._replicas.get(name)
        if replica is None:
            raise KeyError(name)
        clean = await replica.drain(timeout_s) if drain else False
        del self._replicas[name]
        self._changed()
        await replica.stop()
        await self._runners.pop(name).cleanup()
        return clean

    async def close(self) -> None:
        for name in list(self._replicas):
            await self.remove(name, drain=False)

    def pick(self) -> EmulatedReplica | None:
        """The ready replica with the fewest requests routed to it and not yet answered; ties round-robin."""
        ready = [replica for replica in self._replicas.values() if replica.ready]
        if not ready:
            return None
        fewest = min(replica.routed for replica in ready)
        tied = [replica for replica in ready if replica.routed == fewest]
        return tied[next(self._round_robin) % len(tied)]
