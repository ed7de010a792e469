"""Back off while the API server is unreachable; resume at once when it answers again."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Throttle:
    """Exponential backoff on consecutive failures, reset by one success (kopf's `throttled`)."""

    initial_s: float = 1.0
    max_s: float = 60.0
    failures: int = 0
    not_before: float = 0.0
    last_error: str = ""

    def ready(self, now: float) -> bool:
        return now >= self.not_before

    def failed(self, now: float, error: str) -> float:
        self.failures += 1
        delay = min(self.initial_s * 2.0 ** (self.failures - 1), self.max_s)
        self.not_before = now + delay
        self.last_error = error
        return delay

    def succeeded(self) -> None:
        self.failures, self.not_before, self.last_error = 0, 0.0, ""
