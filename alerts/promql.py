"""PromQL pieces the rule modules share. Metric names come from catalog families only."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from alerts.config import AlertsConfig
from metrics.catalog import MetricFamily, MetricType, ScrapeLayout, aggregate

Inner = Callable[[str], str]


def identity(selector: str) -> str:
    return selector


MODEL_LEVEL = "namespace_deployment_model"
DEPLOYMENT_LEVEL = "namespace_deployment"
GPU_LEVEL = "hostname_gpu"


def by_deployment(cfg: AlertsConfig) -> tuple[str, ...]:
    return ("namespace", cfg.deployment)


def by_model(cfg: AlertsConfig) -> tuple[str, ...]:
    return ("namespace", cfg.deployment, "model_name")


GPU_IDENTITY = ("hostname", "gpu", "UUID", "modelName")


def by_gpu(cfg: AlertsConfig) -> tuple[str, ...]:
    """One GPU (node, index, UUID, model) and the pod that holds it.

    `hostname` is normalised from `Hostname` by the catalog; `namespace`/`pod` name the consumer
    whatever the exporter's honorLabels setting.
    """
    return (*GPU_IDENTITY, "namespace", "pod", cfg.deployment)


def per_gpu(family: MetricFamily, cfg: AlertsConfig, op: str, inner: Inner = identity) -> str:
    """`op` per GPU: with the consumer's namespace/pod/deployment where a Deployment's pod holds
    the GPU, with only the GPU's identity otherwise.

    Aggregating by `deployment` makes the catalog keep only GPUs held by a Deployment's pods; a
    hardware fault on an idle GPU still matters (it is the next one to be allocated), hence the
    second branch for every other GPU.
    """
    held = agg(family, cfg.layout, op, by_gpu(cfg), inner)
    anywhere = agg(family, cfg.layout, op, GPU_IDENTITY, inner)
    return f"{held}\nor ({anywhere}\nunless on (hostname, UUID) {held})"


def on(labels: tuple[str, ...]) -> str:
    return f"on ({', '.join(labels)})"


def metric_part(family: MetricFamily) -> str:
    """The metric part of a recording-rule name: the family's name, colons and `_total` dropped."""
    name = family.name.replace(":", "_")
    if family.type is MetricType.COUNTER and name.endswith("_total"):
        name = name[: -len("_total")]
    return name


def recorded(level: str, family: MetricFamily | str, operations: str) -> str:
    """`level:metric:operations` (kubernetes-mixin naming)."""
    metric = family if isinstance(family, str) else metric_part(family)
    return f"{level}:{metric}:{operations}"


def le_matcher(boundary: float) -> str:
    """Match the `le` series of a bucket boundary however the exporter printed it.

    prometheus_client prints `1.0`, Go clients print `1`; a raw (backtick) PromQL string keeps the
    regex readable.
    """
    spellings = dict.fromkeys((repr(float(boundary)), f"{boundary:g}"))
    return "le=~`" + "|".join(s.replace(".", r"\.") for s in spellings) + "`"


def paren(expr: str) -> str:
    return f"({expr})"


def agg(
    family: MetricFamily,
    layout: ScrapeLayout,
    op: str = "",
    by: Sequence[str] = (),
    inner: Inner = identity,
    matchers: str = "",
    suffix: str = "",
) -> str:
    """`aggregate(...)` in parentheses, always.

    A family with aliases aggregates to `(A) or (B) or ...`, and `or` binds weaker than every
    other binary operator: `A or B > 10` would compare B only. Every aggregate that takes part in
    a larger expression goes through here.
    """
    return paren(aggregate(family, layout, op, by, inner, matchers, suffix))
