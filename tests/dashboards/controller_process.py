"""The real tokenscale controller (`scaler.run.Runner`) over an in-memory cluster, as a process.

`python -m tests.dashboards.controller_process --prometheus URL --bind 127.0.0.1:PORT
--deployment chat=ADMIN_URL ...` runs the same Runner as `tokenscale run` (apscheduler ticks, the
decision core, the exporter and its /metrics endpoint); only the Kubernetes API is replaced by the
in-memory cluster, whose pods the emulator bridge turns into emulated vLLM replicas. This is how
the dashboards get the controller's own series without a Kubernetes API server.
"""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Sequence
from typing import Any

from metrics.catalog import ScrapeLayout
from scaler.kube.memory import InMemoryCluster
from scaler.run import Runner, RunOptions
from serving.stack.bridge import EmulatorBridge

IDLE_GRACE_S = 15


def autoscaler_spec(name: str, min_replicas: int, max_replicas: int) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "scaleTargetRef": {"name": name},
        "minReplicas": min_replicas,
        "maxReplicas": max_replicas,
        "signals": [{"type": "RunningRequests", "targetPerReplica": 32}],
        "behavior": {
            "stableWindowSeconds": 20,
            "panicWindowSeconds": 4,
            "maxSignalAgeSeconds": 10,
            "scaleDown": {"stabilizationWindowSeconds": 15},
        },
        # No price given: the controller takes the H100 on-demand price from metrics/cost's table.
        "cost": {"gpuModel": "H100", "gpusPerReplica": 1},
    }
    if min_replicas == 0:
        # Short, so a replay of a few minutes shows several trips to zero and back.
        spec["behavior"]["scaleToZero"] = {"idleGracePeriodSeconds": IDLE_GRACE_S}
    return spec


class PodSync:
    """Applies the latest ready pods of one Deployment to its emulator on a worker thread.

    The in-memory cluster reports pod changes synchronously from inside a tick; draining a replica
    takes seconds, which in a real cluster the kubelet spends, not the controller. Without the
    thread the controller's tick duration would measure this harness.
    """

    def __init__(self, bridge: EmulatorBridge) -> None:
        self._bridge = bridge
        self._latest: tuple[str, str, list[str]] | None = None
        self._changed = threading.Condition()
        threading.Thread(target=self._run, name="pod-sync", daemon=True).start()

    def __call__(self, namespace: str, deployment: str, ready: list[str]) -> None:
        with self._changed:
            self._latest = (namespace, deployment, list(ready))
            self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._latest is not None)
                assert self._latest is not None
                namespace, deployment, ready = self._latest
                self._latest = None
            self._bridge.sync_quietly(namespace, deployment, ready)


def _deployment(text: str) -> tuple[str, str, int, int]:
    """`name=admin_url[,min,max]`."""
    name, sep, rest = text.partition("=")
    url, *bounds = rest.split(",")
    if not sep or not name or not url or len(bounds) not in (0, 2):
        raise argparse.ArgumentTypeError(f"expected NAME=ADMIN_URL[,MIN,MAX], got {text!r}")
    low, high = (int(b) for b in bounds) if bounds else (1, 4)
    return name, url, low, high


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.dashboards.controller_process", description=__doc__)
    parser.add_argument("--prometheus", required=True)
    parser.add_argument("--bind", required=True, help="127.0.0.1:PORT for /metrics")
    parser.add_argument("--namespace", default="llm")
    parser.add_argument("--deployment", type=_deployment, action="append", required=True)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    syncs = {name: PodSync(EmulatorBridge(url, drain_timeout_s=5)) for name, url, _, _ in args.deployment}

    def pods_changed(namespace: str, deployment: str, ready: list[str]) -> None:
        syncs[deployment](namespace, deployment, ready)

    cluster = InMemoryCluster(on_pods_changed=pods_changed)
    for name, _, low, high in args.deployment:
        cluster.add_deployment(args.namespace, name, replicas=max(1, low), gpus=1)
        cluster.add_autoscaler(args.namespace, name, autoscaler_spec(name, low, high))
    options = RunOptions(
        prometheus_url=args.prometheus,
        interval_s=args.interval,
        metrics_bind_address=args.bind,
        # Prometheus scrapes every second here; 10 s rates react within a replay of a minute.
        layout=ScrapeLayout(rate_window="10s"),
    )
    return Runner(options, cluster=cluster).run_forever()


if __name__ == "__main__":
    raise SystemExit(main())
