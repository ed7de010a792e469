"""Series Prometheus itself writes for every scrape target."""

from __future__ import annotations

from metrics.catalog.families import MetricFamily, MetricType, Source

UP = MetricFamily(
    name="up",
    type=MetricType.GAUGE,
    unit="bool",
    help="1 when Prometheus' last scrape of the target succeeded, 0 when it failed. Carries the target's "
    "labels (job, instance, and for Kubernetes discovery namespace and pod of the scraped pod itself).",
    source=Source.PROMETHEUS,
    labels=("job", "instance", "namespace", "pod"),
)

ALL: tuple[MetricFamily, ...] = (UP,)
