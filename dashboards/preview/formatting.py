"""Value formatting that mimics Grafana's for the unit ids the dashboards use."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from dashboards import units


def _number(value: float) -> str:
    """Grafana-like auto decimals: more digits for small numbers, none for large ones."""
    magnitude = abs(value)
    if magnitude == 0:
        return "0"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    if magnitude >= 1:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def _scaled(value: float, steps: tuple[tuple[float, str], ...]) -> str:
    """Divide by the largest step not above |value| and append its suffix."""
    for factor, suffix in reversed(steps):
        if abs(value) >= factor:
            return f"{_number(value / factor)}{suffix}"
    return f"{_number(value)}{steps[0][1]}"


_SHORT = ((1.0, ""), (1e3, " K"), (1e6, " Mil"), (1e9, " Bil"))
_SECONDS = ((1e-6, " µs"), (1e-3, " ms"), (1.0, " s"), (60.0, " min"), (3600.0, " hour"), (86400.0, " day"))
_MEBIBYTES = ((1.0, " MiB"), (1024.0, " GiB"), (1024.0**2, " TiB"))
_WATTS = ((1.0, " W"), (1e3, " kW"), (1e6, " MW"))


def short(value: float) -> str:
    return _scaled(value, _SHORT)


def format_value(value: float | None, unit: str) -> str:
    """`value` as Grafana would print it with `unit` (a Grafana unit id)."""
    if value is None:
        return "No data"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if unit.startswith("suffix:"):
        return f"{short(value)}{unit.removeprefix('suffix:')}"
    match unit:
        case "s":
            return _scaled(value, _SECONDS) if value else "0 s"
        case "percentunit":
            return f"{_number(value * 100)}%"
        case "percent":
            return f"{_number(value)}%"
        case "reqps":
            return f"{short(value)} req/s"
        case "opm":
            return f"{short(value)} ops/min"
        case "currencyUSD":
            return f"${short(value)}" if abs(value) >= 1000 else f"${value:,.2f}"
        case "watt":
            return _scaled(value, _WATTS)
        case "celsius":
            return f"{_number(value)} °C"
        case "mbytes":
            return _scaled(value, _MEBIBYTES)
        case "kwatth":
            return f"{_number(value)} kWh"
        case "bool_yes_no":
            return "Yes" if value else "No"
        case "dateTimeAsIso":
            return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        case "none":
            return _number(value)
        case _:
            return short(value)


def axis_label(unit: str) -> str:
    try:
        return units.by_grafana_id(unit).axis
    except KeyError:
        return unit
