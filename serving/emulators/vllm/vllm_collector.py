"""A prometheus_client collector that renders one replica engine's state as vLLM's metric families."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import cast

from prometheus_client import utils as prometheus_utils
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.samples import Sample

from serving.emulators.vllm.metric_names import HELP, Naming
from serving.engine import FinishReason, Histogram, ReplicaEngine

ENGINE_INDEX = "0"
PROMPT_SOURCES = ("local_compute", "local_cache_hit", "external_kv_transfer")
CACHED_SOURCES = ("device", "host", "p2p", "disk", "external_unspecified")
SLEEP_STATES = ("awake", "weights_offloaded", "discard_all")
ADMISSION_REASONS = ("max_num_queued_reqs", "max_num_queued_tokens")


# prometheus_client's own `le` formatting (1.0, 0.25, +Inf), which it ships untyped.
go_float = cast(Callable[[float], str], prometheus_utils.floatToGoString)


class VllmCollector:
    """Builds the families at scrape time from the engine's counters and histograms.

    `created` is the replica's start time (the value of every `_created` series).
    """

    def __init__(
        self,
        engine: ReplicaEngine,
        model_name: str,
        naming: Naming,
        created: float,
        waiting_deferred: Callable[[], int],
    ) -> None:
        self._engine = engine
        self._model_name = model_name
        self._naming = naming
        self._created = created
        # Requests held outside the engine (e.g. paused engine) count as deferred waiting.
        self._waiting_deferred = waiting_deferred

    def collect(self) -> Iterator[Metric]:
        yield from self._gauges()
        yield from self._counters()
        yield from self._histograms()

    # ----- helpers -----------------------------------------------------------------------

    def _labels(self, **extra: str) -> tuple[list[str], list[str]]:
        names = ["model_name", "engine", *extra]
        values = [self._model_name, ENGINE_INDEX, *extra.values()]
        return names, values

    def _gauge(self, base: str, value: float, **extra: str) -> GaugeMetricFamily:
        names, values = self._labels(**extra)
        family = GaugeMetricFamily(self._naming.name(base), HELP[base], labels=names)
        family.add_metric(values, value)
        return family

    def _counter(self, base: str, children: Sequence[tuple[dict[str, str], float]]) -> CounterMetricFamily:
        first_extra = children[0][0] if children else {}
        names, _ = self._labels(**first_extra)
        family = CounterMetricFamily(self._naming.name(base), HELP[base], labels=names)
        for extra, value in children:
            family.add_metric(self._labels(**extra)[1], value, created=self._created)
        return family

    def _histogram(self, base: str, histogram: Histogram, help_key: str | None = None) -> HistogramMetricFamily:
        names, values = self._labels()
        name = self._naming.name(base)
        family = HistogramMetricFamily(name, HELP[help_key or base], labels=names)
        buckets = [(go_float(edge), float(count)) for edge, count in histogram.cumulative()]
        family.add_metric(values, buckets, histogram.sum)
        family.samples.append(Sample(name + "_created", dict(zip(names, values, strict=True)), self._created))
        return family

    # ----- families ----------------------------------------------------------------------

    def _gauges(self) -> Iterator[Metric]:
        engine, naming = self._engine, self._naming
        # Every queued request waits for capacity: nothing in the model defers requests.
        capacity, deferred = engine.num_waiting, 0
        yield self._gauge("num_requests_running", engine.num_running)
        yield self._gauge("num_requests_waiting", capacity + deferred)
        if naming.legacy:
            yield self._gauge("gpu_cache_usage_perc", engine.kv_usage)
            yield self._gauge("kv_cache_usage_perc", engine.kv_usage)
            return
        names, _ = self._labels(reason="")
        by_reason = GaugeMetricFamily(
            naming.name("num_requests_waiting_by_reason"), HELP["num_requests_waiting_by_reason"], labels=names
        )
        by_reason.add_metric(self._labels(reason="capacity")[1], capacity)
        by_reason.add_metric(self._labels(reason="deferred")[1], deferred)
        yield by_reason
        names, _ = self._labels(sleep_state="")
        sleep = GaugeMetricFamily(naming.name("engine_sleep_state"), HELP["engine_sleep_state"], labels=names)
        for state in SLEEP_STATES:
            sleep.add_metric(self._labels(sleep_state=state)[1], 1.0 if state == "awake" else 0.0)
        yield sleep
        yield self._gauge("kv_cache_usage_perc", engine.kv_usage)

    def _counters(self) -> Iterator[Metric]:
        stats, naming = self._engine.stats, self._naming
        # No prefix caching is modelled: every prompt token is a miss computed locally.
        yield self._counter("prefix_cache_queries", [({}, stats.prompt_tokens)])
        yield self._counter("prefix_cache_hits", [({}, 0.0)])
        if naming.legacy:
            yield self._counter("gpu_prefix_cache_queries", [({}, stats.prompt_tokens)])
            yield self._counter("gpu_prefix_cache_hits", [({}, 0.0)])
        else:
            for base in (
                "external_prefix_cache_queries",
                "external_prefix_cache_hits",
                "mm_cache_queries",
                "mm_cache_hits",
            ):
                yield self._counter(base, [({}, 0.0)])
        yield self._counter("num_preemptions", [({}, stats.num_preemptions)])
        yield self._counter("prompt_tokens", [({}, stats.prompt_tokens)])
        if not naming.legacy:
            yield self._counter(
                "prompt_tokens_by_source",
                [
                    ({"source": source}, stats.prompt_tokens if source == "local_compute" else 0.0)
                    for source in PROMPT_SOURCES
                ],
            )
            yield self._counter("prompt_tokens_cached", [({}, 0.0)])
            yield self._counter(
                "prompt_tokens_cached_by_source", [({"source": source}, 0.0) for source in CACHED_SOURCES]
            )
        yield self._counter("generation_tokens", [({}, stats.generation_tokens)])
        finished = dict(stats.finished_by_reason)
        if naming.legacy:
            # 0.10 had no error reason: failed requests were reported as aborted.
            finished[FinishReason.ABORT] += finished[FinishReason.ERROR]
        yield self._counter(
            "request_success",
            [({"finished_reason": reason.value}, finished[reason]) for reason in naming.finish_reasons],
        )
        if not naming.legacy:
            rejections = CounterMetricFamily(
                naming.name("admission_rejections"), HELP["admission_rejections"], labels=["model_name", "reason"]
            )
            for reason in ADMISSION_REASONS:
                rejections.add_metric([self._model_name, reason], 0.0, created=self._created)
            yield rejections

    def _histograms(self) -> Iterator[Metric]:
        stats, legacy = self._engine.stats, self._naming.legacy
        yield self._histogram("request_prompt_tokens", stats.request_prompt_tokens)
        yield self._histogram("request_generation_tokens", stats.request_generation_tokens)
        yield self._histogram("iteration_tokens_total", stats.iteration_tokens)
        yield self._histogram("request_max_num_generation_tokens", stats.request_max_num_generation_tokens)
        yield self._histogram("request_params_n", stats.request_params_n)
        yield self._histogram("request_params_max_tokens", stats.request_params_max_tokens)
        yield self._histogram("time_to_first_token_seconds", stats.time_to_first_token)
        if legacy:
            # Same observations as the inter-token histogram, under the deprecated name.
            yield self._histogram("time_per_output_token_seconds", stats.inter_token_latency)
        yield self._histogram("inter_token_latency_seconds", stats.inter_token_latency)
        if not legacy:
            yield self._histogram("request_time_per_output_token_seconds", stats.request_time_per_output_token)
        yield self._histogram("e2e_request_latency_seconds", stats.e2e_request_latency)
        yield self._histogram("request_queue_time_seconds", stats.request_queue_time)
        yield self._histogram("request_inference_time_seconds", stats.request_inference_time)
        yield self._histogram("request_prefill_time_seconds", stats.request_prefill_time)
        yield self._histogram("request_decode_time_seconds", stats.request_decode_time)
        if not legacy:
            yield self._histogram("request_num_preemptions", stats.request_num_preemptions)
            yield self._histogram("request_prefill_kv_computed_tokens", stats.request_prefill_kv_computed_tokens)


class CacheConfigCollector:
    """vllm:cache_config_info: a constant 1 whose labels describe the KV cache (no model_name label)."""

    def __init__(self, labels: dict[str, str], naming: Naming) -> None:
        self._labels = {**labels, "engine": ENGINE_INDEX}
        self._naming = naming

    def collect(self) -> Iterator[Metric]:
        names = sorted(self._labels)
        family = GaugeMetricFamily(self._naming.name("cache_config_info"), HELP["cache_config_info"], labels=names)
        family.add_metric([self._labels[name] for name in names], 1.0)
        yield family
