"""Small helpers for end-to-end tests: bounded waits and test workloads."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from kubernetes import client

from serving.stack.kwok_nodes import GPU_RESOURCE

T = TypeVar("T")


def wait_for(
    probe: Callable[[], T | None],
    timeout_s: float,
    what: str,
    poll_s: float = 0.1,
    detail: Callable[[], str] | None = None,
) -> T:
    """Poll until probe returns something truthy; bounded both in time and in attempts.

    On timeout the message says `detail()` when given (what a person needs to see), else the last
    value the probe returned."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    for _ in range(int(timeout_s / poll_s) + 1):
        last = probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            break
        time.sleep(poll_s)
    raise AssertionError(
        f"timed out after {timeout_s:.0f} s waiting for {what}; {detail() if detail else f'last: {last!r}'}"
    )


def gpu_deployment(name: str, replicas: int, gpus_per_pod: int = 1) -> client.V1Deployment:
    """A Deployment whose pods each request GPUs (the image is never pulled: kwok fakes pods)."""
    labels = {"app": name}
    return client.V1Deployment.model_validate(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "vllm",
                                "image": "vllm/vllm-openai:latest",
                                "resources": {
                                    "requests": {"cpu": "1", GPU_RESOURCE: str(gpus_per_pod)},
                                    "limits": {GPU_RESOURCE: str(gpus_per_pod)},
                                },
                            }
                        ]
                    },
                },
            },
        }
    )


def pod_condition(pod: client.V1Pod, kind: str) -> client.V1PodCondition | None:
    for condition in (pod.status.conditions if pod.status else None) or []:
        if condition.type == kind:
            return condition
    return None


def is_ready(pod: client.V1Pod) -> bool:
    condition = pod_condition(pod, "Ready")
    return condition is not None and condition.status == "True"
