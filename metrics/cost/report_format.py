"""The cost report as rows, and rows as a table, CSV or JSON. Pure (returns strings)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from metrics.cost.accounting import CostTotals, DeploymentCost
from metrics.cost.split import SplitRule

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class CostRow:
    namespace: str
    deployment: str
    models: str
    gpu_models: str
    price_sources: str
    gpu_hours: float
    dollars: float
    prompt_tokens: float
    output_tokens: float
    input_per_million: float | None
    output_per_million: float | None
    blended_per_million: float | None
    idle_share: float | None
    hours_at_zero: float
    savings_dollars: float
    unaccounted_hours: float
    unpriced_gpu_hours: float
    counter_resets: int


def row_of(namespace: str, deployment: str, meta: Sequence[str], totals: CostTotals, rule: SplitRule) -> CostRow:
    prices = totals.prices(rule)
    return CostRow(
        namespace=namespace,
        deployment=deployment,
        models=meta[0],
        gpu_models=meta[1],
        price_sources=meta[2],
        gpu_hours=totals.gpu_seconds / SECONDS_PER_HOUR,
        dollars=totals.dollars,
        prompt_tokens=totals.prompt_tokens,
        output_tokens=totals.output_tokens,
        input_per_million=prices.input_per_million if prices else None,
        output_per_million=prices.output_per_million if prices else None,
        blended_per_million=prices.blended_per_million if prices else None,
        idle_share=totals.idle_share,
        hours_at_zero=totals.zero_seconds / SECONDS_PER_HOUR,
        savings_dollars=totals.savings_dollars,
        unaccounted_hours=totals.unaccounted_seconds / SECONDS_PER_HOUR,
        unpriced_gpu_hours=totals.unpriced_gpu_seconds / SECONDS_PER_HOUR,
        counter_resets=totals.counter_resets,
    )


def rows(costs: Sequence[DeploymentCost], rule: SplitRule) -> list[CostRow]:
    """One row per Deployment, then a TOTAL row summing them (prices recomputed from the sums)."""
    out = [
        row_of(
            c.namespace,
            c.deployment,
            ("+".join(c.models) or "-", "+".join(c.gpu_models) or "-", "+".join(c.price_sources) or "-"),
            c.totals,
            rule,
        )
        for c in costs
    ]
    if len(costs) > 1:
        fields = (
            "gpu_seconds",
            "dollars",
            "idle_gpu_seconds",
            "zero_seconds",
            "savings_dollars",
            "prompt_tokens",
            "output_tokens",
            "unaccounted_seconds",
            "unpriced_gpu_seconds",
        )
        sums: dict[str, Any] = {f: sum(getattr(c.totals, f) for c in costs) for f in fields}
        sums["counter_resets"] = sum(c.totals.counter_resets for c in costs)
        totals = CostTotals(costs[0].totals.start, costs[0].totals.end, **sums)
        out.append(row_of("TOTAL", "", ("", "", ""), totals, rule))
    return out


def _money(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"${value:,.2f}"


def _count(value: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.2f}{unit}"
    return f"{value:.0f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def as_table(report_rows: Sequence[CostRow], header: str = "") -> str:
    columns = (
        "namespace",
        "deployment",
        "model",
        "gpu",
        "price",
        "GPU-h",
        "cost",
        "in tok",
        "out tok",
        "$/M in",
        "$/M out",
        "$/M all",
        "idle",
        "h at 0",
        "saved",
    )
    body = [
        (
            r.namespace,
            r.deployment,
            r.models,
            r.gpu_models,
            r.price_sources,
            f"{r.gpu_hours:.2f}",
            _money(r.dollars),
            _count(r.prompt_tokens),
            _count(r.output_tokens),
            _money(r.input_per_million),
            _money(r.output_per_million),
            _money(r.blended_per_million),
            _pct(r.idle_share),
            f"{r.hours_at_zero:.2f}",
            _money(r.savings_dollars),
        )
        for r in report_rows
    ]
    widths = [max(len(col), *(len(line[i]) for line in body)) for i, col in enumerate(columns)]
    numeric = set(range(5, len(columns)))

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    lines = [header] if header else []
    lines += [fmt(columns), "  ".join("-" * w for w in widths), *(fmt(line) for line in body)]
    notes = [
        f"{r.namespace}/{r.deployment}: {r.unaccounted_hours * 60:.1f} min of GPU data missing (gaps > max gap, not counted)"
        for r in report_rows
        if r.namespace != "TOTAL" and r.unaccounted_hours > 0
    ]
    notes += [
        f"{r.namespace}/{r.deployment}: {r.unpriced_gpu_hours:.2f} GPU-h with no known price (add it to --prices)"
        for r in report_rows
        if r.namespace != "TOTAL" and r.unpriced_gpu_hours > 0
    ]
    return "\n".join(lines + notes) + "\n"


def as_csv(report_rows: Sequence[CostRow]) -> str:
    buffer = io.StringIO()
    names = list(CostRow.__dataclass_fields__)
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for r in report_rows:
        writer.writerow(["" if getattr(r, n) is None else getattr(r, n) for n in names])
    return buffer.getvalue()


def bucket_rows(cost: DeploymentCost, rule: SplitRule) -> list[dict[str, Any]]:
    """Per time bucket of one Deployment: start, end and the row's figures (for JSON and plots)."""
    out: list[dict[str, Any]] = []
    for b in cost.buckets:
        row = asdict(row_of(cost.namespace, cost.deployment, ("", "", ""), b, rule))
        out.append({"start": b.start, "end": b.end, **{k: v for k, v in row.items() if k not in _META}})
    return out


_META = ("namespace", "deployment", "models", "gpu_models", "price_sources")


def as_json(
    report_rows: Sequence[CostRow],
    meta: dict[str, Any],
    costs: Sequence[DeploymentCost] = (),
    rule: SplitRule | None = None,
) -> str:
    """Rows, and per-Deployment buckets when `costs` and `rule` are given."""
    doc: dict[str, Any] = {**meta, "rows": [asdict(r) for r in report_rows]}
    if costs and rule is not None:
        doc["buckets"] = {f"{c.namespace}/{c.deployment}": bucket_rows(c, rule) for c in costs}
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"
