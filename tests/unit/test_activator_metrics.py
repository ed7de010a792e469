"""Demand metrics: catalog names, per-instance registry, and series that exist at zero."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from metrics.catalog import tokenscale
from serving.activator.metrics import ActivatorMetrics


def _samples(metrics: ActivatorMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_every_activator_family_is_exported_at_zero() -> None:
    samples = _samples(ActivatorMetrics("llm", "llama"))
    names = {name for name, _ in samples}
    for family in tokenscale.ACTIVATOR_FAMILIES:
        wanted = f"{family.name}_count" if family.type.value == "histogram" else family.name
        assert wanted in names, family.name
    target = (("deployment", "llama"), ("namespace", "llm"))
    assert samples[(tokenscale.ACTIVATOR_PENDING.name, target)] == 0
    assert samples[(tokenscale.ACTIVATOR_WAKE_SIGNALS.name, target)] == 0
    assert samples[(tokenscale.ACTIVATOR_REJECTED.name, (*target, ("reason", "queue_full")))] == 0


def test_instances_do_not_share_a_registry() -> None:
    first = ActivatorMetrics("llm", "a")
    second = ActivatorMetrics("llm", "a")
    first.request_done(200)
    first.rejected("timeout")
    first.set_pending(7)
    key = (tokenscale.ACTIVATOR_REQUESTS.name, (("code", "200"), ("deployment", "a"), ("namespace", "llm")))
    assert _samples(first)[key] == 1
    assert _samples(second)[key] == 0
    assert _samples(first)[(tokenscale.ACTIVATOR_PENDING.name, (("deployment", "a"), ("namespace", "llm")))] == 7


def test_unusual_codes_get_their_own_series() -> None:
    metrics = ActivatorMetrics("llm", "a")
    metrics.request_done(418)
    key = (tokenscale.ACTIVATOR_REQUESTS.name, (("code", "418"), ("deployment", "a"), ("namespace", "llm")))
    assert _samples(metrics)[key] == 1
