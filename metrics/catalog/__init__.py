"""The one catalog of metrics: every family, alias and query the controller, alerts and dashboards use.

Nothing outside this package spells a vLLM, DCGM or tokenscale metric name; alerts and dashboards
import this package only.
"""

from __future__ import annotations

# Imported last: cost builds on the families and builders above.
from metrics.catalog import (
    cost,
    dcgm,
    opencost,
    scrape,
    tokenscale,
    vllm,
)
from metrics.catalog.families import MetricFamily, MetricType, Source
from metrics.catalog.promql import (
    DEPLOYMENT_FROM_POD_NAME,
    Attribution,
    ScrapeLayout,
    aggregate,
    histogram_quantile,
    increase,
    over_time,
    rate,
    ratio,
    selector,
)
from metrics.catalog.signals import (
    QUANTILE_LABEL,
    SIGNAL_LABEL,
    QueryGroup,
    Signal,
    SignalName,
    batched_queries,
    controller_signals,
    latency_signals,
)

ALL_FAMILIES: tuple[MetricFamily, ...] = vllm.ALL + dcgm.ALL + tokenscale.ALL + opencost.ALL + scrape.ALL


def family_by_name(name: str) -> MetricFamily:
    """Find a family by any of its names (aliases included); histogram parts resolve to the family."""
    for family in ALL_FAMILIES:
        for known in family.names:
            if name == known or (
                family.type is MetricType.HISTOGRAM and name in (f"{known}_bucket", f"{known}_sum", f"{known}_count")
            ):
                return family
    raise KeyError(f"metric {name!r} is not in the tokenscale catalog")


__all__ = [
    "ALL_FAMILIES",
    "DEPLOYMENT_FROM_POD_NAME",
    "QUANTILE_LABEL",
    "SIGNAL_LABEL",
    "Attribution",
    "MetricFamily",
    "MetricType",
    "QueryGroup",
    "ScrapeLayout",
    "Signal",
    "SignalName",
    "Source",
    "aggregate",
    "batched_queries",
    "controller_signals",
    "cost",
    "dcgm",
    "family_by_name",
    "histogram_quantile",
    "increase",
    "latency_signals",
    "opencost",
    "over_time",
    "rate",
    "ratio",
    "scrape",
    "selector",
    "tokenscale",
    "vllm",
]
