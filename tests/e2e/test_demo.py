"""`make demo` in its short form: the whole local stack on a real trace, ending with a report."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def row(report: str, key: str, value: str) -> tuple[str, ...]:
    match = re.search(rf"\| {key} \| {value} \|", report)
    assert match is not None, f"no row {key!r} in the report"
    return match.groups()


def test_short_demo_runs_end_to_end_and_writes_a_report(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scaler.cli", "demo", "--short", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    (report_dir,) = tmp_path.glob("demo-*")
    report = (report_dir / "report.md").read_text()
    assert (report_dir / "demo.png").stat().st_size > 20_000
    assert f"report: {report_dir / 'report.md'}" in output
    sent, answered, failed = (
        int(x) for x in row(report, r"requests sent / answered / failed", r"(\d+) / (\d+) / (\d+)")
    )
    assert sent > 500 and answered == sent and failed == 0  # every request answered, none lost at zero
    assert int(row(report, "scale events", r"(\d+)")[0]) >= 3
    assert "WakeFromZero" in report and "ScaleToZero" in report
    at_zero = int(row(report, "time at zero replicas", r"(\d+) s")[0])
    assert at_zero > 0
    assert "Cost report" in report
    assert "Drift report" in report and "Drift report failed" not in report
    assert re.search(r"requests \d+/\d+ +\[", output), "no live progress lines"
