"""Grafana unit ids used by the dashboards, with how the preview labels and formats them.

Grafana formats a field by its unit id; ids it does not know are shown as a plain suffix, and the
`suffix:` form makes that explicit (used for "per hour", which Grafana has no id for). Keeping the
list here lets the preview render the same units without a Grafana.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    """A Grafana unit id, the axis label the preview prints and how it scales values for text."""

    grafana: str
    axis: str
    percent_of_one: bool = False  # 0-1 values shown as percentages
    currency: bool = False


SECONDS = Unit("s", "seconds")
REQUESTS_PER_SECOND = Unit("reqps", "requests/s")
PER_SECOND = Unit("suffix: /s", "per second")
OPS_PER_MINUTE = Unit("opm", "per minute")
PER_HOUR = Unit("suffix: /h", "per hour")
TOKENS_PER_SECOND = Unit("suffix: tok/s", "tokens/s")
RATIO = Unit("percentunit", "%", percent_of_one=True)
PERCENT = Unit("percent", "%")
DOLLARS = Unit("currencyUSD", "$", currency=True)
DOLLARS_PER_HOUR = Unit("suffix: $/h", "$/h")
DOLLARS_PER_MILLION_TOKENS = Unit("suffix: $/Mtok", "$ per 1M tokens")
WATTS = Unit("watt", "W")
CELSIUS = Unit("celsius", "°C")
MEBIBYTES = Unit("mbytes", "MiB")
KILOWATT_HOURS = Unit("kwatth", "kWh")
COUNT = Unit("short", "count")
REPLICAS = Unit("suffix: replicas", "replicas")
REQUESTS = Unit("suffix: req", "requests")
GPUS = Unit("suffix: GPUs", "GPUs")
GPU_HOURS = Unit("suffix: GPU-h", "GPU-hours")
PLAIN = Unit("none", "")
BOOL = Unit("bool_yes_no", "yes/no")
TIMESTAMP = Unit("dateTimeAsIso", "time")

ALL: tuple[Unit, ...] = (
    SECONDS,
    REQUESTS_PER_SECOND,
    PER_SECOND,
    OPS_PER_MINUTE,
    PER_HOUR,
    TOKENS_PER_SECOND,
    RATIO,
    PERCENT,
    DOLLARS,
    DOLLARS_PER_HOUR,
    DOLLARS_PER_MILLION_TOKENS,
    WATTS,
    CELSIUS,
    MEBIBYTES,
    KILOWATT_HOURS,
    COUNT,
    REPLICAS,
    REQUESTS,
    GPUS,
    GPU_HOURS,
    PLAIN,
    BOOL,
    TIMESTAMP,
)


def by_grafana_id(grafana: str) -> Unit:
    for unit in ALL:
        if unit.grafana == grafana:
            return unit
    raise KeyError(f"unit {grafana!r} is not one of the dashboards' units")
