"""What a test saw over time: the Deployment's counts and the controller's decisions, sampled."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from tests.e2e.kube_helpers import wait_for
from tests.e2e.stack import ServingStack


@dataclass(frozen=True)
class Sample:
    t: float  # seconds since the timeline started
    replicas: int | None  # Deployment spec.replicas (None: the Deployment does not exist)
    ready: int
    emulated: int  # emulated vLLM replicas the bridge runs for the namespace
    reason: str | None  # the controller's last decision for the target
    desired: int | None


@dataclass
class Timeline:
    stack: ServingStack
    samples: list[Sample] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def sample(self) -> Sample:
        replicas = self.stack.replicas()
        ready = self.stack.ready() if replicas is not None else 0
        decision = self.stack.controller.decision(self.stack.namespace, self.stack.deployment) or {}
        s = Sample(
            t=round(time.monotonic() - self.started, 2),
            replicas=replicas,
            ready=ready,
            emulated=len(self.stack.emulated_replicas()),
            reason=decision.get("reason"),
            desired=decision.get("desired"),
        )
        self.samples.append(s)
        return s

    def until(self, done: Callable[[Sample], bool], timeout_s: float, what: str, poll_s: float = 0.5) -> Sample:
        """Sample until `done`; bounded in time and in count."""

        def finished() -> Sample | None:
            sample = self.sample()
            return sample if done(sample) else None

        return wait_for(finished, timeout_s, what, poll_s, detail=lambda: f"last samples:\n{self.tail()}")

    def during(self, seconds: float, poll_s: float = 0.5) -> list[Sample]:
        """Sample for `seconds`; returns the samples taken."""
        taken = []
        for _ in range(max(1, int(seconds / poll_s))):
            taken.append(self.sample())
            time.sleep(poll_s)
        return taken

    def tail(self, n: int = 12) -> str:
        return "\n".join(str(s) for s in self.samples[-n:])

    def peak(self) -> int:
        return max((s.replicas or 0) for s in self.samples) if self.samples else 0


T = TypeVar("T")


@dataclass
class BackgroundSampler(Generic[T]):
    """Calls `read` every `interval_s` on a thread and keeps (monotonic time, value) for non-None values.

    For what must be watched while the test itself blocks (an API server restart, a killed leader).
    Bounded by `max_s` even if stop() is never called.
    """

    read: Callable[[], T | None]
    interval_s: float = 0.2
    max_s: float = 240.0
    samples: list[tuple[float, T]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self, name: str) -> BackgroundSampler[T]:
        def run() -> None:
            for _ in range(int(self.max_s / self.interval_s)):
                if self._stop.wait(self.interval_s):
                    return
                value = self.read()
                if value is not None:
                    self.samples.append((time.monotonic(), value))

        self._thread = threading.Thread(target=run, name=name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
