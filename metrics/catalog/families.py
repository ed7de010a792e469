"""Metric families: one name (plus its aliases) per thing a Prometheus series can measure.

A family is a value; it knows the names it may appear under in Prometheus, never how to aggregate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class MetricType(Enum):
    GAUGE = "gauge"
    COUNTER = "counter"
    HISTOGRAM = "histogram"
    INFO = "info"


class Source(Enum):
    """Which process exposes the family; decides how a series is attributed to a Deployment."""

    VLLM = "vllm"
    DCGM = "dcgm"
    ACTIVATOR = "activator"
    CONTROLLER = "controller"
    PROMETHEUS = "prometheus"
    OPENCOST = "opencost"


@dataclass(frozen=True)
class MetricFamily:
    """A metric as exposed on /metrics: its preferred name first, then every alias seen in the wild.

    `name` is the exposed series name (counters include `_total`; histograms are the base name, the
    series are `<name>_bucket`, `_sum`, `_count`). `aliases` lists older or rewritten names in order
    of preference; queries try `name` first and fall back to each alias in turn.
    """

    name: str
    type: MetricType
    unit: str
    help: str
    source: Source
    labels: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    since: str = ""
    notes: str = field(default="", compare=False)

    @property
    def names(self) -> tuple[str, ...]:
        """Every name to try, preferred first."""
        return (self.name, *self.aliases)

    def series(self, suffix: str = "") -> tuple[str, ...]:
        """Series names for a histogram part (`_bucket`, `_sum`, `_count`) or the family itself."""
        if suffix and self.type is not MetricType.HISTOGRAM:
            raise ValueError(f"suffix: {self.name} is a {self.type.value}, it has no {suffix!r} series")
        return tuple(f"{n}{suffix}" for n in self.names)


def vllm_family(
    base: str,
    type_: MetricType,
    unit: str,
    help_text: str,
    *,
    legacy: tuple[str, ...] = (),
    labels: tuple[str, ...] = ("model_name", "engine"),
    since: str = "",
) -> MetricFamily:
    """A vLLM family under both prefixes, current name first, then legacy names.

    vLLM exposes `vllm:<base>`. prometheus_client 0.23-0.26 rewrites the colon to `_` when
    Prometheus 2.x negotiates OpenMetrics, so `vllm_<base>` is an alias of equal meaning. Legacy
    names (renamed metrics) come after both spellings of the current name.
    """
    names: list[str] = []
    for b in (base, *legacy):
        names.extend((f"vllm:{b}", f"vllm_{b}"))
    return MetricFamily(
        name=names[0],
        type=type_,
        unit=unit,
        help=help_text,
        source=Source.VLLM,
        labels=labels,
        aliases=tuple(names[1:]),
        since=since,
    )
