"""`tokenscale drift serve`: drift reports on a schedule (apscheduler), with /metrics.

Deployable as a sidecar of the activator sharing its records volume. Every `--schedule` the job
compares the last `--current-window` (default: the schedule) with the `--reference-window` before
it (default 7d), writes HTML and JSON under `--out`, keeps the newest `--keep` reports per model,
and updates the gauges. One run at a time (max_instances=1); a run that is late because the last
one overran is coalesced into one, not replayed. The first run starts at once.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from prometheus_client import CollectorRegistry, start_http_server

from metrics.catalog import ScrapeLayout
from metrics.drift.exporter import DriftMetrics
from metrics.drift.job import Filters, Instant, WindowSource, run_round
from metrics.drift.policy import DriftPolicy
from metrics.drift.records_io import RecordCache
from metrics.drift.report import DriftReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeOptions:
    records_dir: Path | None
    schedule_s: float
    current_s: float
    reference_s: float
    out_dir: Path
    keep: int
    policy: DriftPolicy
    filters: Filters


class DriftJob:
    """What runs on each tick of the schedule; callable directly in tests."""

    def __init__(self, options: ServeOptions, metrics: DriftMetrics, instant: Instant | None = None) -> None:
        self.options = options
        self.metrics = metrics
        self._instant = instant
        self._cache = RecordCache(seed=options.policy.seed)
        self.runs = 0

    def __call__(self) -> list[DriftReport]:
        o = self.options
        now = time.time()
        paths = (o.records_dir,) if o.records_dir is not None else ()
        current = WindowSource(paths, now - o.current_s, now)
        reference = WindowSource(paths, now - o.current_s - o.reference_s, now - o.current_s)
        try:
            reports, _ = run_round(
                reference, current, o.policy, now, o.out_dir, cache=self._cache, instant=self._instant,
                layout=ScrapeLayout(), filters=o.filters,
            )  # fmt: skip
        except Exception:
            log.exception("drift round failed")
            return []
        self._cache.forget_missing()
        self.metrics.publish(reports)
        prune(o.out_dir, o.keep)
        self.runs += 1
        return reports


def prune(out_dir: Path, keep: int) -> None:
    """Keep the newest `keep` HTML/JSON pairs per model directory (names sort by time)."""
    if keep <= 0 or not out_dir.exists():
        return
    for folder in {p.parent for p in out_dir.rglob("*.json")}:
        stems = sorted({p.stem for p in folder.iterdir() if p.suffix in (".json", ".html")})
        for stem in stems[:-keep]:
            for suffix in (".json", ".html"):
                (folder / f"{stem}{suffix}").unlink(missing_ok=True)


def serve(options: ServeOptions, bind: tuple[str, int], instant: Instant | None = None) -> int:
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    registry = CollectorRegistry()
    metrics = DriftMetrics(registry)
    server, _ = start_http_server(bind[1], addr=bind[0], registry=registry)
    job = DriftJob(options, metrics, instant)
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(
        job,
        IntervalTrigger(seconds=options.schedule_s),
        next_run_time=datetime.now(UTC),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(1, int(options.schedule_s)),
        id="drift",
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    scheduler.start()
    log.info("drift serve: every %gs, metrics on http://%s:%d/metrics", options.schedule_s, *bind)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        # Let a running report finish (it writes files), then stop serving metrics.
        scheduler.shutdown(wait=True)
        server.shutdown()
    return 0


def bind_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)
