"""Prometheus durations as values, and the time scaling that makes the e2e rule variant fast.

The shipped rules and the e2e variant come from the same source: the variant multiplies every
`for:`, range window, offset and time threshold by one factor. Nothing else differs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)([dhms])")


@dataclass(frozen=True, order=True)
class Duration:
    """A whole number of seconds, printed the way Prometheus and humans write it (`1h30m`)."""

    seconds: int

    def __post_init__(self) -> None:
        if self.seconds < 0:
            raise ValueError(f"duration: must not be negative, got {self.seconds} s")

    @classmethod
    def parse(cls, text: str) -> Duration:
        """Parse `90s`, `5m`, `1h30m`, `3d`; `0` and `0s` are zero."""
        if text in ("0", ""):
            return cls(0)
        parts = _PART.findall(text)
        if "".join(n + u for n, u in parts) != text:
            raise ValueError(f"duration: expected something like 5m or 1h30m, got {text!r}")
        return cls(sum(int(n) * _UNITS[u] for n, u in parts))

    def __str__(self) -> str:
        if self.seconds == 0:
            return "0s"
        rest, out = self.seconds, []
        for unit, size in _UNITS.items():
            count, rest = divmod(rest, size)
            if count:
                out.append(f"{count}{unit}")
        return "".join(out)


@dataclass(frozen=True)
class TimeScale:
    """Multiplies durations by `factor` (1 for the shipped rules), never below `floor` when scaled.

    A range window must hold a few scrapes for `rate` to mean anything, hence the floor; `for: 0s`
    stays zero.
    """

    factor: float = 1.0
    floor: Duration = Duration(5)

    def __post_init__(self) -> None:
        if not 0 < self.factor <= 1:
            raise ValueError(f"time scale: factor must be in (0, 1], got {self.factor}")

    def __call__(self, text: str) -> str:
        """Scale a duration written as text; returns Prometheus duration text."""
        return str(self.duration(text))

    def duration(self, text: str) -> Duration:
        value = Duration.parse(text)
        if self.factor == 1 or value.seconds == 0:
            return value
        return max(Duration(round(value.seconds * self.factor)), self.floor)

    def seconds(self, value: float) -> float:
        """Scale a time threshold that appears as a number in an expression (e.g. tick age)."""
        if self.factor == 1:
            return value
        return max(value * self.factor, float(self.floor.seconds))
