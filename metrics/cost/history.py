"""Read a time range of cost inputs from Prometheus and build one DeploymentHistory per Deployment.

Every read is an instant query with an explicit evaluation time (never prometheus-api-client's
import-time defaults). Raw samples come from range selectors (`name[1h]` evaluated at the chunk's
end), chunked so a month never becomes one giant answer; grids come from subqueries
(`(expr)[1h:15s]`). The first chunk reaches back `max_gap` before the start, so counters find a
baseline and gauges carry their value into the window. Results with no series are empty tuples,
never zero.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from metrics.catalog import DEPLOYMENT_FROM_POD_NAME, ScrapeLayout, tokenscale, vllm
from metrics.catalog import cost as cost_q
from metrics.catalog.families import MetricFamily
from metrics.cost.accounting import DeploymentHistory, GpuAllocation, PriceTimeline
from metrics.cost.gpu_models import gpu_model_key, normalize_gpu_model
from metrics.cost.prices import PriceBook, PriceSource, resolve_price
from metrics.cost.progress import Progress
from metrics.cost.samples import Sample, StepFunction

Labels = tuple[tuple[str, str], ...]
Instant = Callable[[str, float], Sequence[Mapping[str, Any]]]

_POD_RE = re.compile(f"^{DEPLOYMENT_FROM_POD_NAME}$")


@dataclass(frozen=True)
class ReadPlan:
    start: float
    end: float
    step_s: float = 15.0
    chunk_s: float = 3600.0
    max_gap_s: float = 300.0
    namespace: str | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.end)) or self.end <= self.start:
            raise ValueError(f"time range: start must be before end, got {self.start} .. {self.end}")
        for name in ("step_s", "chunk_s", "max_gap_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: expected > 0, got {getattr(self, name)}")

    def chunks(self) -> list[tuple[float, float]]:
        """(from, to] pieces covering [start - max_gap, end]."""
        out: list[tuple[float, float]] = []
        t = self.start - self.max_gap_s
        while t < self.end:
            out.append((t, min(self.end, t + self.chunk_s)))
            t = out[-1][1]
        return out


def _dur(seconds: float) -> str:
    return f"{max(1, math.ceil(seconds))}s"


def _labels(metric: Mapping[str, str]) -> Labels:
    return tuple(sorted((k, v) for k, v in metric.items() if k != "__name__"))


def _samples(item: Mapping[str, Any]) -> list[Sample]:
    values = item.get("values") or ([item["value"]] if "value" in item else [])
    return [(float(t), float(v)) for t, v in values]


class _RawSeries:
    """Samples per label set for one family, preferred alias first."""

    def __init__(self) -> None:
        self.by_labels: dict[Labels, list[Sample]] = {}
        self._name_of: dict[Labels, int] = {}

    def add(self, alias_index: int, result: Sequence[Mapping[str, Any]]) -> None:
        for item in result:
            key = _labels(item["metric"])
            known = self._name_of.setdefault(key, alias_index)
            if known == alias_index:
                self.by_labels.setdefault(key, []).extend(_samples(item))


def deployment_of(labels: Mapping[str, str], layout: ScrapeLayout) -> str | None:
    """The Deployment a vLLM series belongs to: the PodMonitor's label, else the pod name."""
    name = labels.get(layout.deployment_label)
    if name:
        return name
    match = _POD_RE.match(labels.get("pod", ""))
    return match.group(1) if match else None


class CostHistoryReader:
    """Reads through `instant(expr, at)` (e.g. metrics.prometheus.PrometheusSource.instant)."""

    def __init__(self, instant: Instant, layout: ScrapeLayout | None = None, progress: bool | None = None) -> None:
        self._instant = instant
        self._layout = layout or ScrapeLayout()
        self._progress = progress

    def _raw(
        self, family: MetricFamily, plan: ReadPlan, chunks: Sequence[tuple[float, float]], bar: Progress
    ) -> _RawSeries:
        out = _RawSeries()
        matchers = f'namespace="{plan.namespace}"' if plan.namespace else ""
        for a, b in chunks:
            for index, expr in enumerate(cost_q.raw_selectors(family, self._layout, _dur(b - a), matchers)):
                out.add(index, self._instant(expr, b))
            bar.advance()
        return out

    def _grid(self, expr: str, plan: ReadPlan, chunks: Sequence[tuple[float, float]], bar: Progress) -> _RawSeries:
        out = _RawSeries()
        step = _dur(plan.step_s)
        for a, b in chunks:
            out.add(0, self._instant(f"({expr})[{_dur(b - a)}:{step}]", b))
            bar.advance()
        return out

    def _over_range(self, expr: str, plan: ReadPlan, fn: str = "max") -> dict[tuple[str, str], float]:
        """`fn_over_time((expr)[range:step])` at the end, per (namespace, deployment)."""
        query = f"{fn}_over_time(({expr})[{_dur(plan.end - plan.start)}:{_dur(plan.step_s)}])"
        out: dict[tuple[str, str], float] = {}
        for item in self._instant(query, plan.end):
            labels = item["metric"]
            dep = labels.get(self._layout.deployment_label)
            value = float(item["value"][1])
            if dep and math.isfinite(value):
                out[(labels.get("namespace", ""), dep)] = value
        return out

    def read(self, plan: ReadPlan, book: PriceBook | None = None) -> list[DeploymentHistory]:
        book = book or PriceBook()
        chunks = plan.chunks()
        bar = Progress(len(chunks) * 5, "reading Prometheus", enabled=self._progress if len(chunks) > 1 else False)
        gpus = self._raw(tokenscale.GPUS_ALLOCATED, plan, chunks, bar)
        prices = self._raw(tokenscale.GPU_PRICE, plan, chunks, bar)
        prompt = self._raw(vllm.PROMPT_TOKENS, plan, chunks, bar)
        output = self._raw(vllm.GENERATION_TOKENS, plan, chunks, bar)
        # Two grid steps back, so increase() always has a pair of samples to compare.
        busy = self._grid(cost_q.busy(self._layout, _dur(2 * plan.step_s)), plan, chunks, bar)
        per_replica = self._gpus_per_replica(plan)
        dcgm_models = self._dcgm_models(plan)
        opencost = (
            self._over_range(cost_q.opencost_price_per_gpu_hour(self._layout), plan, "avg") if book.use_opencost else {}
        )
        return self._assemble(plan, book, gpus, prices, prompt, output, busy, per_replica, dcgm_models, opencost)

    def _gpus_per_replica(self, plan: ReadPlan) -> dict[tuple[str, str], float]:
        layout = self._layout
        exported = cost_q.gpus_allocated(layout).replace(
            tokenscale.GPUS_ALLOCATED.name, tokenscale.GPUS_PER_REPLICA.name
        )
        found: dict[tuple[str, str], float] = {}
        # Most trusted last: the controller's own figure (pod spec) overwrites the estimates.
        # GPUs / ready replicas overstates while pods start or drain (they hold GPUs, not ready), never
        # understates: its minimum is the estimate. Per-pod DCGM counts are exact per pod: the maximum.
        for expr, fn in (
            (cost_q.dcgm_gpus_per_pod(layout), "max"),
            (cost_q.gpus_per_replica_observed(layout), "min"),
            (exported, "max"),
        ):
            found.update(self._over_range(expr, plan, fn))
        return found

    def _dcgm_models(self, plan: ReadPlan) -> dict[tuple[str, str], str]:
        out: dict[tuple[str, str], str] = {}
        query = f"max_over_time(({cost_q.dcgm_gpu_models(self._layout)})[{_dur(plan.end - plan.start)}:{_dur(plan.step_s)}])"
        for item in self._instant(query, plan.end):
            labels = item["metric"]
            dep = labels.get(self._layout.deployment_label)
            model = normalize_gpu_model(labels.get("modelName"))
            if dep and model:
                out[(labels.get("namespace", ""), dep)] = model
        return out

    def _assemble(
        self,
        plan: ReadPlan,
        book: PriceBook,
        gpus: _RawSeries,
        prices: _RawSeries,
        prompt: _RawSeries,
        output: _RawSeries,
        busy: _RawSeries,
        per_replica: Mapping[tuple[str, str], float],
        dcgm_models: Mapping[tuple[str, str], str],
        opencost: Mapping[tuple[str, str], float],
    ) -> list[DeploymentHistory]:
        layout = self._layout
        price_by_key = {key: StepFunction.of(samples) for key, samples in prices.by_labels.items()}
        allocations: dict[tuple[str, str], list[GpuAllocation]] = {}
        min_nonzero: dict[tuple[str, str], float] = {}
        for key, samples in gpus.by_labels.items():
            labels = dict(key)
            target = (labels.get("namespace", ""), labels.get("deployment", ""))
            model = gpu_model_key(labels.get("gpu_model") or dcgm_models.get(target))
            quote = resolve_price(book, namespace=target[0], gpu_model=model, opencost_price=opencost.get(target))
            override = quote.source in (PriceSource.NAMESPACE, PriceSource.PRICE_FILE)
            timeline = PriceTimeline(
                price_by_key.get(key, StepFunction((), ())), quote.price_per_gpu_hour, quote.source, override
            )
            allocations.setdefault(target, []).append(
                GpuAllocation(labels.get("autoscaler", ""), model, tuple(samples), timeline)
            )
            nonzero = [v for _, v in samples if v > 0]
            if nonzero:
                min_nonzero[target] = min(*nonzero, min_nonzero.get(target, math.inf))

        counters: dict[tuple[str, str], tuple[list[tuple[Sample, ...]], list[tuple[Sample, ...]], set[str]]] = {}
        for series, slot in ((prompt, 0), (output, 1)):
            for key, samples in series.by_labels.items():
                labels = dict(key)
                dep = deployment_of(labels, layout)
                if dep is None:
                    continue
                entry = counters.setdefault((labels.get("namespace", ""), dep), ([], [], set()))
                entry[slot].append(tuple(samples))  # type: ignore[union-attr]
                if labels.get("model_name"):
                    entry[2].add(labels["model_name"])

        busy_by: dict[tuple[str, str], list[Sample]] = {}
        for key, samples in busy.by_labels.items():
            labels = dict(key)
            busy_by.setdefault((labels.get("namespace", ""), labels.get(layout.deployment_label, "")), []).extend(
                samples
            )

        out: list[DeploymentHistory] = []
        for target in sorted(set(allocations) | set(counters)):
            if plan.namespace and target[0] != plan.namespace:
                continue
            prompt_c, output_c, models = counters.get(target, ([], [], set()))
            out.append(
                DeploymentHistory(
                    namespace=target[0],
                    deployment=target[1],
                    models=tuple(sorted(models)),
                    allocations=tuple(allocations.get(target, ())),
                    prompt_counters=tuple(prompt_c),
                    output_counters=tuple(output_c),
                    busy=tuple(busy_by.get(target, ())),
                    busy_step_s=plan.step_s,
                    gpus_per_replica=per_replica.get(target, min_nonzero.get(target)),
                )
            )
        return out
