"""The small subset of Prometheus' annotation template language the rules use, and a renderer.

Restricting annotations to these forms keeps them readable and lets tests compute the exact text
Prometheus will produce (promtool compares annotations verbatim). The renderer mirrors Prometheus
2.42's `humanize*` functions (template/template.go).
"""

from __future__ import annotations

import math
import re
import urllib.parse
from collections.abc import Mapping

_ACTION = re.compile(r"\{\{(.*?)\}\}")
_LABEL = re.compile(r"^\$labels\.([A-Za-z_][A-Za-z0-9_]*)(\s*\|\s*urlquery)?$")
# A bare `$value` prints Go's shortest float form; always pick a humanize filter or printf instead.
_VALUE = re.compile(r"^\$value\s*\|\s*(humanize|humanizePercentage|humanizeDuration)$")
_PRINTF = re.compile(r'^printf\s+"(%\.\d+f)"\s+\$value$')


class UnsupportedTemplate(ValueError):
    """An annotation uses template syntax outside the supported subset."""


def _go_g4(value: float) -> str:
    """Go's `%.4g` for finite and non-finite floats."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.4g}"


def humanize(value: float) -> str:
    if value == 0 or math.isnan(value) or math.isinf(value):
        return _go_g4(value)
    prefix = ""
    if abs(value) >= 1:
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(value) < 1000:
                break
            prefix, value = p, value / 1000
        return f"{_go_g4(value)}{prefix}"
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(value) >= 1:
            break
        prefix, value = p, value * 1000
    return f"{_go_g4(value)}{prefix}"


def humanize_percentage(value: float) -> str:
    return f"{_go_g4(value * 100)}%"


def humanize_duration(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return _go_g4(value)
    if value == 0:
        return f"{_go_g4(value)}s"
    if abs(value) >= 1:
        sign = "-" if value < 0 else ""
        value = abs(value)
        total = int(value)
        seconds, minutes = total % 60, (total // 60) % 60
        hours, days = (total // 3600) % 24, total // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_go_g4(value)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(value) >= 1:
            break
        prefix, value = p, value * 1000
    return f"{_go_g4(value)}{prefix}s"


_FILTERS = {
    "humanize": humanize,
    "humanizePercentage": humanize_percentage,
    "humanizeDuration": humanize_duration,
}


def check(template: str) -> None:
    """Raise UnsupportedTemplate unless every `{{ ... }}` is one of the supported forms."""
    for action in _ACTION.findall(template):
        body = action.strip()
        if not (_LABEL.match(body) or _VALUE.match(body) or _PRINTF.match(body)):
            raise UnsupportedTemplate(f"unsupported template action {{{{{action}}}}} in {template!r}")


def render(template: str, labels: Mapping[str, str], value: float) -> str:
    """Render like Prometheus does; a missing label renders as the empty string."""
    check(template)

    def one(match: re.Match[str]) -> str:
        body = match.group(1).strip()
        if label := _LABEL.match(body):
            text = labels.get(label.group(1), "")
            # Go's urlquery is url.QueryEscape: everything but letters, digits and -_.~ is escaped.
            return urllib.parse.quote_plus(text, safe="") if label.group(2) else text
        if printf := _PRINTF.match(body):
            return printf.group(1) % value
        filt = _VALUE.match(body)
        assert filt is not None  # check() passed
        return _FILTERS[filt.group(1)](value)

    return _ACTION.sub(one, template)
