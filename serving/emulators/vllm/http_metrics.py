"""The HTTP metrics vLLM's API server exports through prometheus-fastapi-instrumentator.

Same names, types, labels and buckets as the instrumentator's defaults (status grouped as 2xx,
4xx, 5xx; /metrics and /health not instrumented). Help texts are our own.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, Summary

HIGHR_BUCKETS = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 7.5, 10.0, 30.0, 60.0,
)  # fmt: skip
HANDLER_BUCKETS = (0.1, 0.5, 1.0)
# Paths the instrumentator leaves out, as vLLM configures it.
EXCLUDED_HANDLERS = frozenset({"/metrics", "/health", "/load", "/ping", "/version", "/server_info"})


class HttpMetrics:
    """Per-replica HTTP request metrics in the replica's own registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "http_requests",
            "Requests served, by handler, method and status class.",
            ["handler", "method", "status"],
            registry=registry,
        )
        self.request_size = Summary(
            "http_request_size_bytes",
            "Request body sizes by handler, from the Content-Length header.",
            ["handler"],
            registry=registry,
        )
        self.response_size = Summary(
            "http_response_size_bytes",
            "Response body sizes by handler, from the Content-Length header (0 when streamed).",
            ["handler"],
            registry=registry,
        )
        self.duration_highr = Histogram(
            "http_request_duration_highr_seconds",
            "Request duration over all handlers, with fine buckets for percentiles.",
            buckets=HIGHR_BUCKETS,
            registry=registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Request duration by handler and method, with coarse buckets.",
            ["handler", "method"],
            buckets=HANDLER_BUCKETS,
            registry=registry,
        )

    def observe(
        self, handler: str, method: str, status: int, duration_s: float, request_bytes: int, response_bytes: int
    ) -> None:
        if handler in EXCLUDED_HANDLERS:
            return
        self.requests.labels(handler, method, f"{status // 100}xx").inc()
        self.request_size.labels(handler).observe(request_bytes)
        self.response_size.labels(handler).observe(response_bytes)
        self.duration_highr.observe(duration_s)
        self.duration.labels(handler, method).observe(duration_s)
