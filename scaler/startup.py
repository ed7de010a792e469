"""Measured pod start-up per target: from a scale-up written to the new replicas being Ready.

Predictive pre-scaling (`behavior.prediction.fromColdStart`) looks ahead by this much. It is what
the target really takes on this cluster (scheduling, image pull, weight load, graph capture), not
a guess; until a first scale-up completes it is unknown (None).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from scaler.observation import KubeView

Key = tuple[str, str, str]
#: Recent start-ups kept per target; the slowest of them is used (start-up times have long tails).
KEEP = 5
#: A start-up not finished after this long is abandoned (a stuck pod must not read as a cold start).
ABANDON_S = 3600.0


@dataclass
class StartupClock:
    _pending: dict[Key, tuple[int, float]] = field(default_factory=dict)
    _samples: dict[Key, deque[float]] = field(default_factory=dict)

    def scaled(self, key: Key, from_replicas: int, to_replicas: int, now: float) -> None:
        """A scale write succeeded: time a scale-up, forget a pending one on a scale-down."""
        if to_replicas > from_replicas:
            self._pending.setdefault(key, (to_replicas, now))
        else:
            self._pending.pop(key, None)

    def observe(self, key: Key, kube: KubeView, now: float) -> float | None:
        """Close a pending start-up when its replicas are Ready; return the slowest recent one."""
        pending = self._pending.get(key)
        if pending is not None:
            wanted, since = pending
            if kube.ready_replicas >= wanted:
                self._samples.setdefault(key, deque(maxlen=KEEP)).append(now - since)
                del self._pending[key]
            elif now - since > ABANDON_S or kube.spec_replicas < wanted:
                del self._pending[key]
        samples = self._samples.get(key)
        return max(samples) if samples else None

    def forget(self, key: Key) -> None:
        """The autoscaler was deleted: drop what was measured for it."""
        self._pending.pop(key, None)
        self._samples.pop(key, None)
