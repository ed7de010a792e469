"""The name extractor the catalog test relies on finds names and nothing else."""

from __future__ import annotations

import pytest

from tests.dashboards.promql_names import metric_names


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        ('sum by (namespace) (rate(vllm:x_total{a="b", c=~"d|e"}[5m]))', {"vllm:x_total"}),
        ('histogram_quantile(0.95, sum by (le) (rate(h_bucket{le=~"1([.]0+)?"}[1m])))', {"h_bucket"}),
        ('label_replace(m{exported_pod!=""}, "pod", "$1", "exported_pod", "(.+)")', {"m"}),
        ("a / on (x) group_left (y) b > bool 0 or vector(0)", {"a", "b"}),
        ("3600 * sum(rate(c[1h] offset 1d)) * 1e6 + time()", {"c"}),
        ("max_over_time((a / (b > 0))[1h:15s])", {"a", "b"}),
        ('count({__name__=~"vllm:a|vllm_a", namespace=~".*"})', {"vllm:a", "vllm_a"}),
        ("x unless on (n) (y > 0)", {"x", "y"}),
    ],
)
def test_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names
