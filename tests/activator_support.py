"""Helpers for the activator's tests: flags, a hand-driven endpoint source, a fake Lease API."""

from __future__ import annotations

import argparse
from typing import Any

from serving.activator.config import ActivatorConfig, add_arguments, from_args
from serving.activator.endpoints import Publish
from serving.stack.ports import free_port


def activator_config(upstream_port: int, *extra: str, deployment: str = "llama") -> ActivatorConfig:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    argv = [
        "--upstream",
        f"http://127.0.0.1:{upstream_port}",
        "--deployment",
        deployment,
        "--namespace",
        "llm",
        "--bind-address",
        f"127.0.0.1:{free_port()}",
        "--metrics-bind-address",
        f"127.0.0.1:{free_port()}",
        "--wake-lease",
        "none",
        *extra,
    ]
    return from_args(parser.parse_args(argv), environ={"POD_NAME": "activator-test"})


def activator_argv(upstream: str, port: int, metrics_port: int, *extra: str) -> list[str]:
    return [
        "--upstream",
        upstream,
        "--deployment",
        "llama",
        "--namespace",
        "llm",
        "--bind-address",
        f"127.0.0.1:{port}",
        "--metrics-bind-address",
        f"127.0.0.1:{metrics_port}",
        "--wake-lease",
        "none",
        "--endpoints",
        "upstream-health",
        *extra,
    ]


class ManualSource:
    """An EndpointSource the test drives: `set(n)` publishes n ready endpoints."""

    def __init__(self, ready: int = 0) -> None:
        self._ready = ready
        self._publish: Publish | None = None
        self.nudges = 0

    async def start(self, publish: Publish) -> None:
        self._publish = publish
        publish(self._ready)

    def set(self, ready: int) -> None:
        self._ready = ready
        if self._publish is not None:
            self._publish(ready)

    def nudge(self) -> None:
        self.nudges += 1

    async def stop(self) -> None:
        self._publish = None


class RecordingLeaseApi:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def patch(self, namespace: str, name: str, body: dict[str, Any]) -> None:
        self.calls.append((namespace, name, body))
