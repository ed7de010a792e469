"""Import boundaries of metrics/cost and metrics/drift: pure modules import no I/O library, and
the heavy libraries (evidently, pandas, matplotlib) load only when a report runs."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE = [
    "metrics/cost/gpu_models.py",
    "metrics/cost/prices.py",
    "metrics/cost/split.py",
    "metrics/cost/live.py",
    "metrics/cost/samples.py",
    "metrics/cost/accounting.py",
    "metrics/cost/report_format.py",
    "metrics/drift/features.py",
    "metrics/drift/policy.py",
    "metrics/drift/histograms.py",
    "metrics/drift/report.py",
    "metrics/catalog/cost.py",
    "metrics/timeparse.py",
]
IO = {
    "requests", "urllib", "http", "socket", "subprocess", "asyncio", "aiohttp", "prometheus_api_client",
    "prometheus_client", "kubernetes", "yaml", "pandas", "evidently", "matplotlib", "apscheduler", "os",
    "pathlib", "time", "threading",
}  # fmt: skip


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_import_no_io(module: str) -> None:
    assert not imported(ROOT / module) & IO


def test_entry_points_do_not_load_heavy_libraries() -> None:
    code = (
        "import sys, metrics.cost.cli, metrics.cost.live, metrics.drift.cli, metrics.drift.serve;"
        "print(sorted(m for m in ('evidently', 'pandas', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
