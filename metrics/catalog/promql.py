"""Small PromQL builders that hide metric-name aliases and Deployment attribution.

Everything that turns a `MetricFamily` into PromQL goes through `aggregate`, so the alias rules
live in one place:

* every name of a family is tried, preferred first, joined with `or`. Each branch is aggregated
  to the same labels, so `or` keeps the preferred branch per label set and never double counts;
* a series is attributed to its Deployment either by the `deployment` label the shipped PodMonitor
  adds (`Attribution.LABEL`) or by parsing the ReplicaSet pod name (`Attribution.POD_NAME`).
  DCGM series always use the pod name: dcgm-exporter only knows the pod holding the GPU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from metrics.catalog.families import MetricFamily, Source

# Pod names of a Deployment are `<deployment>-<pod-template-hash>-<5 chars>`; both suffixes use the
# vowel-free alphabet of Kubernetes' SafeEncodeString, which keeps ordinary words from matching.
_SAFE = "[bcdfghjklmnpqrstvwxz2456789]"
DEPLOYMENT_FROM_POD_NAME = f"(.+)-{_SAFE}{{1,10}}-{_SAFE}{{5}}"


class Attribution(Enum):
    """How a vLLM or activator series is tied to the Deployment it measures."""

    LABEL = "label"
    POD_NAME = "pod-name"


@dataclass(frozen=True)
class ScrapeLayout:
    """What depends on how a cluster is scraped; the defaults match the manifests tokenscale ships.

    vllm_matchers keeps only engine series: production-stack routers also export
    `vllm:num_requests_waiting` but without `model_name`.
    """

    vllm_matchers: str = 'model_name!=""'
    dcgm_matchers: str = ""
    activator_matchers: str = ""
    controller_matchers: str = ""
    attribution: Attribution = Attribution.LABEL
    deployment_label: str = "deployment"
    rate_window: str = "1m"

    def __post_init__(self) -> None:
        if not self.rate_window or self.rate_window[-1] not in "smhd" or not self.rate_window[:-1].isdigit():
            raise ValueError(f"rate_window: expected a duration such as 1m or 30s, got {self.rate_window!r}")
        if not self.deployment_label.replace("_", "").isalnum():
            raise ValueError(f"deployment_label: not a Prometheus label name: {self.deployment_label!r}")

    def matchers_for(self, source: Source) -> str:
        return {
            Source.VLLM: self.vllm_matchers,
            Source.DCGM: self.dcgm_matchers,
            Source.ACTIVATOR: self.activator_matchers,
            Source.CONTROLLER: self.controller_matchers,
            Source.PROMETHEUS: "",
            Source.OPENCOST: "",
        }[source]


Inner = Callable[[str], str]


def identity(selector: str) -> str:
    return selector


def rate(window: str) -> Inner:
    return lambda selector: f"rate({selector}[{window}])"


def increase(window: str) -> Inner:
    return lambda selector: f"increase({selector}[{window}])"


def over_time(fn: str, window: str, offset: str = "") -> Inner:
    """`avg_over_time`, `max_over_time`, ... as an inner function; `offset` looks back (e.g. `1d`)."""
    shift = f" offset {offset}" if offset else ""
    return lambda selector: f"{fn}_over_time({selector}[{window}]{shift})"


def join_matchers(*parts: str) -> str:
    return ", ".join(p for p in parts if p)


def selector(name: str, matchers: str = "") -> str:
    return f"{name}{{{matchers}}}" if matchers else name


def label_replace(expr: str, dst: str, replacement: str, src: str, regex: str) -> str:
    return f'label_replace({expr}, "{dst}", "{replacement}", "{src}", "{regex}")'


def with_label(expr: str, label: str, value: str) -> str:
    """Attach a constant label (label_replace on the empty source label always matches `^$`)."""
    return label_replace(expr, label, value, "", "")


def dcgm_consumer(name: str, matchers: str, inner: Inner = identity, consumer_pattern: str = "") -> str:
    """DCGM series with `pod`/`namespace`/`hostname` naming the GPU's consumer, whatever the scrape.

    With honorLabels false (the dcgm-exporter chart default) Prometheus renames the exporter's pod
    and namespace labels to `exported_pod`/`exported_namespace`; with honorLabels true they keep
    their names. The first branch handles the former, the second the latter; `Hostname` (releases)
    and `hostname` (main) are folded into `hostname`. `inner` (rate, max_over_time, ...) is applied
    to each raw selector: range functions only take a selector, never a label_replace result.
    `consumer_pattern`, when given, keeps only GPUs whose consumer pod name matches it (GPUs held by
    a Deployment's pods); idle GPUs carry the exporter's own pod name and are dropped.
    """
    renamed_pod = f'exported_pod=~"{consumer_pattern}"' if consumer_pattern else 'exported_pod!=""'
    honoured_pod = f'pod=~"{consumer_pattern}"' if consumer_pattern else ""
    renamed = label_replace(
        label_replace(inner(selector(name, join_matchers(matchers, renamed_pod))), "pod", "$1", "exported_pod", "(.+)"),
        "namespace",
        "$1",
        "exported_namespace",
        "(.+)",
    )
    honoured = inner(selector(name, join_matchers(matchers, 'exported_pod=""', honoured_pod)))
    return label_replace(f"({renamed} or {honoured})", "hostname", "$1", "Hostname", "(.+)")


def _attributed(expr: str, family: MetricFamily, layout: ScrapeLayout) -> str:
    if family.source is Source.DCGM or (layout.attribution is Attribution.POD_NAME and family.source is Source.VLLM):
        return label_replace(expr, layout.deployment_label, "$1", "pod", DEPLOYMENT_FROM_POD_NAME)
    return expr


def _by(labels: Sequence[str]) -> str:
    return f" by ({', '.join(labels)})" if labels else ""


def aggregate(
    family: MetricFamily,
    layout: ScrapeLayout,
    op: str = "",
    by: Sequence[str] = (),
    inner: Inner = identity,
    matchers: str = "",
    suffix: str = "",
) -> str:
    """`op by (by) (inner(series))` for every alias of `family`, joined with `or`.

    `op` is an aggregation operator (sum, max, avg, min, count) or "" for the raw attributed series.
    `matchers` are extra label matchers (e.g. `finished_reason="error"`); the layout's matchers for
    the family's source are always applied. `suffix` selects a histogram part (`_bucket`, ...).
    """
    base_matchers = join_matchers(layout.matchers_for(family.source), matchers)
    # Aggregating per Deployment: drop series that can't be attributed to one, at the selector, so
    # they don't pile up in an empty-deployment group.
    per_deployment = layout.deployment_label in by
    consumer_pattern = DEPLOYMENT_FROM_POD_NAME if per_deployment else ""
    if per_deployment and family.source in (Source.VLLM, Source.ACTIVATOR):
        if family.source is Source.VLLM and layout.attribution is Attribution.POD_NAME:
            base_matchers = join_matchers(base_matchers, f'pod=~"{DEPLOYMENT_FROM_POD_NAME}"')
        else:
            base_matchers = join_matchers(base_matchers, f'{layout.deployment_label}!=""')
    branches: list[str] = []
    for name in family.series(suffix):
        if family.source is Source.DCGM:
            series = dcgm_consumer(name, base_matchers, inner, consumer_pattern)
        else:
            series = inner(selector(name, base_matchers))
        attributed = _attributed(series, family, layout)
        branches.append(f"{op}{_by(by)} ({attributed})" if op else attributed)
    if len(branches) == 1:
        return branches[0]
    return " or ".join(f"({b})" for b in branches)


def histogram_quantile(
    quantile: float,
    family: MetricFamily,
    layout: ScrapeLayout,
    by: Sequence[str],
    *,
    window: str | None = None,
    matchers: str = "",
) -> str:
    """The q-quantile of a histogram family per `by` group.

    The rate window is the layout's unless `window` is given; dashboards pass Grafana's
    `$__rate_interval`, which the layout's duration check would (rightly) refuse.
    """
    inner = rate(layout.rate_window if window is None else window)
    buckets = aggregate(family, layout, "sum", ("le", *by), inner, matchers=matchers, suffix="_bucket")
    return f"histogram_quantile({quantile:g}, {buckets})"


def ratio(numerator: str, denominator: str) -> str:
    """numerator / denominator, empty (not NaN or +Inf) where the denominator is zero."""
    return f"({numerator}) / (({denominator}) > 0)"
