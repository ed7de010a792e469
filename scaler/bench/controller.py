"""Benchmark: one controller tick for 1, 100 and 1,000 autoscalers against a real Prometheus.

Prometheus holds emulated series backfilled into its TSDB (promtool tsdb create-blocks-from
openmetrics), so the query load is real. Each size runs in its own child process so its peak RSS
is its own; the 1-autoscaler run is the baseline the others are reported against.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry

from metrics.exporter import ControllerMetrics
from metrics.prometheus import PrometheusSource
from scaler.bench.fleet_series import FleetShape, openmetrics
from scaler.kube.memory import InMemoryCluster
from scaler.loop import Controller

SIZES = (1, 100, 1000)
# Data lives between T0 and T0+600 s, two days ago, well inside the TSDB retention.
T0 = (int(time.time()) // 7200 - 24) * 7200


@dataclass(frozen=True)
class TickFigures:
    autoscalers: int
    queries_per_tick: int
    series_returned: int
    tick_p50_s: float
    tick_max_s: float
    query_p50_s: float  # wall time of the concurrent queries (the slowest one)
    decide_and_publish_p50_s: float
    peak_rss_mib: float
    decisions: dict[str, int]


def backfill(workdir: Path, targets: int, progress: bool = True) -> Path:
    """Write the series into `workdir/tsdb`, where the Prometheus launcher keeps its TSDB."""
    data = workdir / "fleet.om"
    with data.open("w") as out:
        for line in openmetrics(FleetShape(targets=targets, start_s=T0)):
            out.write(line)
    tsdb = workdir / "tsdb"
    if progress:
        print(f"  backfilling {data.stat().st_size / 2**20:.0f} MiB of series for {targets} targets ...", flush=True)
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(data), str(tsdb)],
        check=True, capture_output=True, timeout=1800,
    )  # fmt: skip
    data.unlink()
    return tsdb


def child(prometheus_url: str, targets: int, ticks: int) -> TickFigures:
    """Runs in its own process: build the cluster view, tick `ticks` times, report."""
    shape = FleetShape(targets=targets, start_s=T0)
    cluster = InMemoryCluster()
    for i in range(targets):
        ns, dep = shape.deployment(i)
        cluster.add_deployment(ns, dep, replicas=shape.pods)
        cluster.add_autoscaler(
            ns, dep, {"scaleTargetRef": {"name": dep}, "minReplicas": 1, "maxReplicas": 8, "gpuUtilizationGuard": 0.9,
                      "slo": {"timeToFirstToken": {"thresholdSeconds": 1.0}}},
        )  # fmt: skip
    clock_at = [float(T0 + 300)]
    source = PrometheusSource(prometheus_url, timeout_s=30)
    controller = Controller(cluster, source, ControllerMetrics(CollectorRegistry()), clock=lambda: clock_at[0])
    durations, query_times, rest = [], [], []
    series = 0
    decisions: dict[str, int] = {}
    for _ in range(ticks):
        record = controller.tick()
        clock_at[0] += 5
        durations.append(record.duration_s)
        queried = max((o.duration_s for o in record.results.outcomes), default=0.0)  # they run concurrently
        query_times.append(queried)
        rest.append(record.duration_s - queried)
        series = sum(len(o.series) for o in record.results.outcomes)
        assert not record.results.failed, record.results.failed
        for outcome in record.outcomes:
            decisions[outcome.decision.reason.value] = decisions.get(outcome.decision.reason.value, 0) + 1
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return TickFigures(
        autoscalers=targets,
        queries_per_tick=len(controller.queries),
        series_returned=series,
        tick_p50_s=statistics.median(durations[1:] or durations),
        tick_max_s=max(durations[1:] or durations),
        query_p50_s=statistics.median(query_times[1:] or query_times),
        decide_and_publish_p50_s=statistics.median(rest[1:] or rest),
        peak_rss_mib=rss_mib,
        decisions=decisions,
    )


def run(sizes: tuple[int, ...] = SIZES, ticks: int = 6) -> list[TickFigures]:
    from serving.stack.prometheus import PrometheusConfig, start_prometheus

    results: list[TickFigures] = []
    for size in sizes:
        # A Prometheus per size holding exactly that fleet, so each run queries what it would in real life.
        with tempfile.TemporaryDirectory(prefix="tokenscale-bench-") as tmp:
            home = Path(tmp) / "prometheus"
            home.mkdir()
            backfill(home, size)
            prometheus = start_prometheus(PrometheusConfig(retention="30d"), workdir=home, ready_timeout_s=300)
            try:
                print(f"  controller tick, {size} autoscaler(s) ...", flush=True)
                out = subprocess.run(
                    [sys.executable, "-m", "scaler.bench.controller", prometheus.url, str(size), str(ticks)],
                    check=True, capture_output=True, text=True, timeout=900,
                )  # fmt: skip
                results.append(TickFigures(**json.loads(out.stdout.strip().splitlines()[-1])))
            finally:
                prometheus.stop()
    return results


def markdown(figures: list[TickFigures]) -> str:
    base = figures[0]
    lines = [
        "| autoscalers | queries/tick | series returned | tick p50 | tick max | queries p50 | decide+publish p50 | peak RSS | tick vs 1 | RSS vs 1 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in figures:
        lines.append(
            f"| {f.autoscalers} | {f.queries_per_tick} | {f.series_returned} | {f.tick_p50_s * 1000:.0f} ms | "
            f"{f.tick_max_s * 1000:.0f} ms | {f.query_p50_s * 1000:.0f} ms | {f.decide_and_publish_p50_s * 1000:.0f} ms | "
            f"{f.peak_rss_mib:.0f} MiB | {f.tick_p50_s / base.tick_p50_s:.1f}x | {f.peak_rss_mib / base.peak_rss_mib:.2f}x |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    url, size, ticks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(asdict(child(url, size, ticks))))
