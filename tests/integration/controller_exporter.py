"""The controller's real exporter (metrics.exporter.ControllerMetrics) driven by rows the test sets.

The cost test needs GPU allocations whose exact timing it knows; the control loop would add a
tick of lag to each change. So the test publishes ticks itself, through the same collector and
the same /metrics rendering the controller uses, and can make scrapes fail (a scrape gap).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, generate_latest

from metrics.exporter import ControllerMetrics, PublishedTick, TargetRow
from serving.stack.ports import LOOPBACK

TICK_S = 0.25


class DrivenExporter:
    def __init__(self, namespace: str, deployment: str, gpu_model: str, price: float) -> None:
        self.registry = CollectorRegistry()
        self.metrics = ControllerMetrics(self.registry)
        self._row = TargetRow(
            namespace=namespace, deployment=deployment, autoscaler=deployment, desired=0, current=0, ready=0,
            min_replicas=0, max_replicas=4, pending=0, unschedulable=0, reason="Test", gpus_allocated=0.0,
            gpus_per_replica=1.0,
            gpu_model=gpu_model, price_per_gpu_hour=price,
        )  # fmt: skip
        self._lock = threading.Lock()
        self.failing = False
        #: (wall time, GPUs) for every change: the analytical side of the accuracy test.
        self.changes: list[tuple[float, float]] = []
        self.set_gpus(0.0, replicas=0)
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick_forever, daemon=True)
        self._ticker.start()

    def _tick_forever(self) -> None:
        """Republish the current row like the control loop does, so the dollars counter accrues."""
        while not self._stop.wait(TICK_S):
            with self._lock:
                self.metrics.publish(PublishedTick(at=time.time(), duration_s=0.001, outcome="ok", rows=(self._row,)))

    def close(self) -> None:
        self._stop.set()
        self._ticker.join(timeout=2)

    def set_gpus(self, gpus: float, replicas: int, ready: int | None = None) -> float:
        with self._lock:
            now = time.time()
            self._row = replace(
                self._row, gpus_allocated=gpus, current=replicas, desired=replicas,
                ready=replicas if ready is None else ready,
            )  # fmt: skip
            self.metrics.publish(PublishedTick(at=now, duration_s=0.001, outcome="ok", rows=(self._row,)))
            self.changes.append((now, gpus))
            return now

    def render(self) -> bytes:
        with self._lock:
            return generate_latest(self.registry)

    def gpu_seconds(self, start: float, end: float) -> float:
        """The exact integral of the GPUs set over [start, end)."""
        total = 0.0
        for i, (t, g) in enumerate(self.changes):
            until = self.changes[i + 1][0] if i + 1 < len(self.changes) else end
            a, b = max(t, start), min(until, end)
            if b > a:
                total += g * (b - a)
        return total


@contextmanager
def serve(exporter: DrivenExporter) -> Iterator[str]:
    """Serve /metrics on a free loopback port; yields the host:port target."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if exporter.failing:
                self.send_response(500)
                self.end_headers()
                return
            body = exporter.render()
            self.send_response(200)
            # The classic text format, as the controller's server sends it.
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
