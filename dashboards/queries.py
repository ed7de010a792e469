"""PromQL shared by the dashboards, built only from `metrics.catalog` families and builders.

Panels filter on Grafana template variables with regex matchers (`=~"$namespace"`) so the "All"
option (`.*`) and multi-select (`(a|b)`) both work. The rate window is Grafana's
`$__rate_interval`, which follows the panel's resolution and is never shorter than four scrapes.
"""

from __future__ import annotations

from collections.abc import Sequence

from metrics.catalog import (
    MetricFamily,
    ScrapeLayout,
    aggregate,
    histogram_quantile,
    increase,
    over_time,
    rate,
    ratio,
)

#: How the cluster is scraped; the defaults match the PodMonitors tokenscale ships.
LAYOUT = ScrapeLayout()

RATE = "$__rate_interval"
RANGE = "$__range"

#: Labels naming an autoscaling target (every family tokenscale exports carries them).
TARGET = ("namespace", LAYOUT.deployment_label)
#: Labels naming one GPU (after the catalog's DCGM label normalisation).
GPU = ("hostname", "gpu")


def matchers(*parts: str) -> str:
    return ", ".join(p for p in parts if p)


NAMESPACE = 'namespace=~"$namespace"'
DEPLOYMENT = f'{LAYOUT.deployment_label}=~"$deployment"'
MODEL = 'model_name=~"$model_name"'
TARGET_FILTER = matchers(NAMESPACE, DEPLOYMENT)
MODEL_FILTER = matchers(NAMESPACE, DEPLOYMENT, MODEL)
# dcgm-exporter releases spell the node label `Hostname`, main spells it `hostname`; a series has
# one of them, and the empty alternative lets the other (absent) spelling pass.
HOSTNAME_FILTER = matchers('Hostname=~"${hostname}|"', 'hostname=~"${hostname}|"')
GPU_FILTER = matchers(HOSTNAME_FILTER, 'gpu=~"$gpu"')


def legend(*labels: str, suffix: str = "") -> str:
    """A Grafana legend such as `{{namespace}}/{{deployment}} p95`."""
    text = "/".join(f"{{{{{label}}}}}" for label in labels)
    return f"{text} {suffix}".strip()


TARGET_LEGEND = legend(*TARGET)
GPU_LEGEND = "{{hostname}} GPU {{gpu}}"


def or_zero(expr: str, evidence: str, on: Sequence[str] = ()) -> str:
    """`expr`, or 0 for each `on` group where `evidence` exists but `expr` has no series.

    Labelled counters only exist after their first increment, so "none happened" is often an
    absent series. Zero is only claimed where `evidence` shows the source was there to count
    (no data is not zero: without evidence the result stays empty), and only for groups with no
    real series at all, so a zero line never sits beside a real one.
    """
    return f"({expr}) or on ({', '.join(on)}) (0 * ({evidence}))"


def count_in_range(expr: str) -> str:
    """Whole events: increase() extrapolates to the range edges and yields fractions."""
    return f"round({expr})"


def sum_rate(family: MetricFamily, by: Sequence[str] = (), filters: str = "", suffix: str = "") -> str:
    """Per-second rate of a counter (or histogram part), summed per `by` group."""
    return aggregate(family, LAYOUT, "sum", by, rate(RATE), filters, suffix)


def sum_increase(
    family: MetricFamily, by: Sequence[str] = (), filters: str = "", window: str = RANGE, suffix: str = ""
) -> str:
    """How much a counter grew over `window` (the dashboard's time range by default)."""
    return aggregate(family, LAYOUT, "sum", by, increase(window), filters, suffix)


def gauge(family: MetricFamily, op: str, by: Sequence[str] = (), filters: str = "") -> str:
    return aggregate(family, LAYOUT, op, by, matchers=filters)


def gauge_over_range(family: MetricFamily, fn: str, op: str, by: Sequence[str] = (), filters: str = "") -> str:
    """`op by (by) (<fn>_over_time(series[$__range]))`: e.g. the peak KV-cache use over the range."""
    return aggregate(family, LAYOUT, op, by, over_time(fn, RANGE), filters)


def quantile(q: float, family: MetricFamily, by: Sequence[str] = (), filters: str = "", window: str = RATE) -> str:
    return histogram_quantile(q, family, LAYOUT, by, window=window, matchers=filters)


def mean(family: MetricFamily, by: Sequence[str] = (), filters: str = "", window: str = RATE) -> str:
    """Mean observation of a histogram over the window: rate(sum) / rate(count)."""
    inner = rate(window)
    return ratio(
        aggregate(family, LAYOUT, "sum", by, inner, filters, "_sum"),
        aggregate(family, LAYOUT, "sum", by, inner, filters, "_count"),
    )


def bucket_increase(family: MetricFamily, filters: str = "") -> str:
    """Observations per bucket and step, for heatmaps (Grafana de-accumulates `le` itself)."""
    return aggregate(family, LAYOUT, "sum", ("le",), increase(RATE), filters, "_bucket")


def share_within(family: MetricFamily, le_variable: str, by: Sequence[str], filters: str, window: str) -> str:
    """Share of observations at or under the bucket boundary held by a template variable.

    vLLM renders boundaries as `1.0`; other exporters as `1`. The optional `.0…` suffix matches
    either spelling without hard-coding bucket values.
    """
    le = f'le=~"${{{le_variable}}}([.]0+)?"'
    return ratio(
        aggregate(family, LAYOUT, "sum", by, rate(window), matchers(filters, le), "_bucket"),
        aggregate(family, LAYOUT, "sum", by, rate(window), filters, "_count"),
    )


def names_regex(*families: MetricFamily) -> str:
    """A `__name__` regex over every alias of the families, for variable queries."""
    return "|".join(name for family in families for name in family.names)


def label_values(label: str, families: Sequence[MetricFamily], filters: str = "") -> str:
    """Grafana's `label_values()` over every alias of the given families."""
    selector = matchers(f'__name__=~"{names_regex(*families)}"', filters)
    return f"label_values({{{selector}}}, {label})"
