"""Faults an alert test can inject into one emulated replica."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class MetricsFault(enum.StrEnum):
    OK = "ok"
    # /metrics answers 500.
    ERROR = "error"
    # /metrics never answers (the scrape times out) until the fault is cleared.
    HANG = "hang"


@dataclass(frozen=True, slots=True)
class Faults:
    """The fault state of a replica; the default is healthy."""

    # The engine stops stepping: requests queue up (num_requests_waiting grows).
    paused: bool = False
    # Every engine step takes this many times longer (TTFT and inter-token latency rise).
    slowdown: float = 1.0
    # Fraction of KV blocks held by nobody (usage rises, requests queue or get preempted).
    kv_fill: float = 0.0
    # Fraction of new requests that fail at once (finished_reason error, HTTP 500).
    error_fraction: float = 0.0
    # Fraction of new requests aborted after their first token (finished_reason abort, HTTP 503).
    abort_fraction: float = 0.0
    metrics: MetricsFault = MetricsFault.OK

    def updated(self, changes: Mapping[str, Any]) -> Faults:
        """A copy with `changes` applied; raises ValueError naming the bad field and value."""
        known = {field.name for field in dataclasses.fields(self)}
        values: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"unknown fault {key!r}; known: {', '.join(sorted(known))}")
            values[key] = value
        if "paused" in values and not isinstance(values["paused"], bool):
            raise ValueError(f"paused must be true or false, got {values['paused']!r}")
        for key in ("slowdown", "kv_fill", "error_fraction", "abort_fraction"):
            if key in values:
                value = values[key]
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"{key} must be a number, got {value!r}")
                values[key] = float(value)
        if "slowdown" in values and values["slowdown"] < 1.0:
            raise ValueError(f"slowdown must be >= 1, got {values['slowdown']}")
        for key in ("kv_fill", "error_fraction", "abort_fraction"):
            if key in values and not 0.0 <= values[key] <= 1.0:
                raise ValueError(f"{key} must be between 0 and 1, got {values[key]}")
        if "metrics" in values:
            try:
                values["metrics"] = MetricsFault(values["metrics"])
            except ValueError:
                raise ValueError(
                    f"metrics must be one of {', '.join(m.value for m in MetricsFault)}, got {values['metrics']!r}"
                ) from None
        return dataclasses.replace(self, **values)

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["metrics"] = self.metrics.value
        return out
