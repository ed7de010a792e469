"""Durations (`90s`, `15m`, `24h`, `7d`) and points in time for the report and drift CLIs. Pure."""

from __future__ import annotations

import math
import re
from datetime import datetime

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str) -> float:
    """Seconds in `text` ("90s", "15m", "24h", "7d", "1w", "250ms"; "0" is zero)."""
    text = text.strip()
    if text == "0":
        return 0.0
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"expected a duration such as 30s, 15m, 24h or 7d, got {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_time(text: str, now: float) -> float:
    """Unix seconds for "now", a duration ago ("1h" = an hour before now), a unix time or RFC 3339."""
    text = text.strip()
    if text in ("now", "0"):
        return now
    if _DURATION.match(text):
        return now - parse_duration(text)
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(value):
            raise ValueError(f"expected a time, got {text!r}")
        return value
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"expected now, a duration ago (1h), a unix time or RFC 3339, got {text!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{text!r}: give a time zone (e.g. 2026-01-02T03:04:05Z)")
    return parsed.timestamp()


def format_duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
