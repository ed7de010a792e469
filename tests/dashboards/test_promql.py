"""Every panel and variable query, with Grafana's variables substituted, is valid PromQL.

promtool is the parser: each query becomes a recording rule and `promtool check rules` must accept
the file. Prometheus 2.42 (Debian) is the oldest version tokenscale supports, so newer syntax fails.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards.expressions import unresolved
from metrics.catalog import family_by_name
from tests.dashboards.promql_names import metric_names
from tests.dashboards.queries import all_queries


def test_every_variable_is_substituted(boards: dict[str, dict[str, Any]]) -> None:
    left = {q.where: unresolved(q.expr) for q in all_queries(boards) if unresolved(q.expr)}
    assert not left


def test_promtool_accepts_every_query(boards: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool is not installed: run `make setup` (Debian package prometheus)"
    queries = all_queries(boards)
    rules = [{"record": f"tokenscale_dashboard_check:q{i}", "expr": q.expr} for i, q in enumerate(queries)]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], check=False, capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        index = {f"q{i}": q.where for i, q in enumerate(queries)}
        pytest.fail(f"promtool rejected dashboard queries:\n{result.stderr}{result.stdout}\nindex: {index}")
    assert f"{len(rules)} rules found" in result.stdout


def test_every_metric_is_in_the_catalog(boards: dict[str, dict[str, Any]]) -> None:
    unknown: dict[str, set[str]] = {}
    for query in all_queries(boards):
        names = metric_names(query.expr)
        assert names, f"{query.where}: no metric in {query.expr!r}"
        for name in names:
            try:
                family_by_name(name)
            except KeyError:
                unknown.setdefault(query.where, set()).add(name)
    assert not unknown
