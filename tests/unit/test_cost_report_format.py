"""The cost report's table, CSV and JSON renderings."""

from __future__ import annotations

import csv
import io
import json

from metrics.cost.accounting import CostTotals, DeploymentCost
from metrics.cost.cli import build_parser, default_step
from metrics.cost.report_format import as_csv, as_json, as_table, rows
from metrics.cost.split import SplitRule


def cost(deployment: str, dollars: float, prompt: float, output: float, unaccounted: float = 0.0) -> DeploymentCost:
    totals = CostTotals(
        0, 3600, gpu_seconds=3600, dollars=dollars, idle_gpu_seconds=900, prompt_tokens=prompt,
        output_tokens=output, unaccounted_seconds=unaccounted,
    )  # fmt: skip
    return DeploymentCost("ns", deployment, ("m",), ("H100",), ("exported",), 1.0, totals, (totals,))


def test_rows_table_csv_json() -> None:
    report = rows([cost("a", 6.88, 1e6, 0.25e6, unaccounted=120), cost("b", 1.0, 0, 0)], SplitRule())
    assert [r.namespace for r in report] == ["ns", "ns", "TOTAL"]
    assert report[0].input_per_million == 6.88 / 2
    assert report[1].input_per_million is None  # no tokens: no price, not zero
    assert report[2].dollars == 7.88
    table = as_table(report, "header")
    assert "header" in table and "$3.44" in table and "$13.76" in table and "25%" in table
    assert "2.0 min of GPU data missing" in table
    parsed = list(csv.DictReader(io.StringIO(as_csv(report))))
    assert parsed[1]["input_per_million"] == ""
    costs = [cost("a", 6.88, 1e6, 0.25e6)]
    doc = json.loads(as_json(report, {"start": 0}, costs, SplitRule()))
    assert doc["rows"][0]["output_per_million"] == 4 * 6.88 / 2
    assert doc["buckets"]["ns/a"][0]["start"] == 0 and doc["buckets"]["ns/a"][0]["dollars"] == 6.88


def test_flags() -> None:
    args = build_parser().parse_args(["--since", "7d", "--format", "csv", "--output-weight", "3"])
    assert args.since == 7 * 86400 and args.format == "csv" and args.output_weight == 3
    assert default_step(3600) == 15 and default_step(30 * 86400) == 450
