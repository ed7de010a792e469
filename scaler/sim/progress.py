"""A one-line progress bar on stderr for long runs (simulated time against the trace's length)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """Redraws at most every `every_s` wall seconds; `label` names the run (policy, trial)."""

    def __init__(self, label: str = "", stream: TextIO | None = None, width: int = 30, every_s: float = 0.2) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.every_s = every_s
        self.started = time.monotonic()
        self._last = 0.0
        self._drawn = False

    def __call__(self, done_s: float, total_s: float) -> None:
        now = time.monotonic()
        if now - self._last < self.every_s:
            return
        self._last = now
        share = 0.0 if total_s <= 0 else min(1.0, done_s / total_s)
        filled = int(share * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        elapsed = now - self.started
        self.stream.write(
            f"\r{self.label} [{bar}] {share * 100:5.1f}% sim {done_s / 60:6.1f}/{total_s / 60:.1f} min, {elapsed:5.1f} s"
        )
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
