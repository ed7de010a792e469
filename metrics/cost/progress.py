"""A small progress bar on stderr for long Prometheus reads (no dependency; silent when not a tty)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int, label: str, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.total = max(total, 1)
        self.label = label
        self.done = 0
        self._stream = stream or sys.stderr
        self._enabled = self._stream.isatty() if enabled is None else enabled
        self._started = time.monotonic()

    def advance(self, steps: int = 1) -> None:
        self.done = min(self.total, self.done + steps)
        if self._enabled:
            width = 30
            filled = int(width * self.done / self.total)
            elapsed = time.monotonic() - self._started
            self._stream.write(
                f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {elapsed:5.1f}s"
            )
            if self.done == self.total:
                self._stream.write("\n")
            self._stream.flush()
