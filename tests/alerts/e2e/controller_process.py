"""The tokenscale controller as a process for the alert e2e tests.

`python -m tests.alerts.e2e.controller_process --prometheus URL --bind 127.0.0.1:PORT
--deployment NAME[:MIN:MAX[:GPUS]] ... [--admin-url URL]` runs `scaler.run.Runner`, the same object
`tokenscale run` runs (apscheduler ticks, decisions, the exporter and its /metrics endpoint). Only
the Kubernetes API is replaced, by the in-memory cluster; its ready pods become emulated vLLM
replicas through the emulator bridge. `tokenscale run` itself needs a Kubernetes API server.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from typing import Any

from metrics.catalog import ScrapeLayout
from scaler.kube.memory import InMemoryCluster, _Deployment
from scaler.kube.targets import TargetInfo
from scaler.run import Runner, RunOptions
from serving.stack.bridge import EmulatorBridge
from tests.alerts.e2e.names import pod_name


class RealisticPodNames(InMemoryCluster):
    """The in-memory cluster, naming pods the way a ReplicaSet does (see names.py), and telling the
    bridge when a pod turns ready after --ready-delay (the base class compares the ready set with
    itself at the same instant, so a pod that became ready between ticks is never announced)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._announced: dict[tuple[str, str], list[str]] = {}

    def _notify(self, dep: _Deployment) -> None:
        self._announced[(dep.namespace, dep.name)] = self.ready_pods(dep.namespace, dep.name)
        super()._notify(dep)

    def targets(self) -> list[TargetInfo]:
        found = super().targets()
        with self._lock:
            for key, dep in self._deployments.items():
                if self._announced.get(key) != self.ready_pods(*key):
                    self._notify(dep)
        return found

    def _place_pending(self, dep: _Deployment) -> None:
        now = self._clock()
        while len(dep.pods) < dep.replicas:
            if self._gpu_capacity is not None and self._scheduled_gpus() + dep.gpus > self._gpu_capacity:
                break
            dep.serial += 1
            dep.pods[pod_name(dep.name, dep.serial)] = now + self._ready_delay_s


def autoscaler_spec(name: str, low: int, high: int) -> dict[str, Any]:
    return {
        "scaleTargetRef": {"name": name},
        "minReplicas": low,
        "maxReplicas": high,
        "signals": [{"type": "RunningRequests", "targetPerReplica": 16}],
        "behavior": {
            "stableWindowSeconds": 20,
            "panicWindowSeconds": 4,
            "maxSignalAgeSeconds": 10,
            "scaleDown": {"stabilizationWindowSeconds": 15},
        },
        "cost": {"pricePerGpuHour": 2.49, "gpuModel": "H100"},
    }


def _deployment(text: str) -> tuple[str, int, int, int]:
    """`name[:min:max[:gpus]]`."""
    name, *rest = text.split(":")
    if not name or len(rest) not in (0, 2, 3):
        raise argparse.ArgumentTypeError(f"expected NAME[:MIN:MAX[:GPUS]], got {text!r}")
    numbers = [int(n) for n in rest] or [1, 1]
    low, high = numbers[0], numbers[1]
    return name, low, high, numbers[2] if len(numbers) == 3 else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.alerts.e2e.controller_process", description=__doc__)
    parser.add_argument("--prometheus", required=True)
    parser.add_argument("--bind", required=True, help="127.0.0.1:PORT for /metrics")
    parser.add_argument("--namespace", default="llm")
    parser.add_argument("--deployment", type=_deployment, action="append", required=True)
    parser.add_argument("--admin-url", default=None, help="vLLM emulator service URL (its admin API)")
    parser.add_argument("--ready-delay", type=float, default=0.0, help="seconds from pod creation to Ready")
    parser.add_argument("--gpu-capacity", type=int, default=None)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--rate-window", default="10s")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    bridge = EmulatorBridge(args.admin_url, drain_timeout_s=5) if args.admin_url else None

    def pods_changed(namespace: str, deployment: str, ready: list[str]) -> None:
        if bridge is not None:
            bridge.sync_quietly(namespace, deployment, ready)

    cluster = RealisticPodNames(
        ready_delay_s=args.ready_delay, gpu_capacity=args.gpu_capacity, on_pods_changed=pods_changed
    )
    for name, low, high, gpus in args.deployment:
        cluster.add_deployment(args.namespace, name, replicas=max(1, low), gpus=gpus)
        cluster.add_autoscaler(args.namespace, name, autoscaler_spec(name, low, high))
    options = RunOptions(
        prometheus_url=args.prometheus,
        interval_s=args.interval,
        metrics_bind_address=args.bind,
        layout=ScrapeLayout(rate_window=args.rate_window),
        prometheus_timeout_s=2.0,
    )
    return Runner(options, cluster=cluster).run_forever()


if __name__ == "__main__":
    raise SystemExit(main())
