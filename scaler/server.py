"""The controller's HTTP endpoints: /metrics, /healthz, /readyz and /debug/tick (JSON)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)


def parse_bind_address(raw: str, flag: str = "--metrics-bind-address") -> tuple[str, int]:
    """`HOST:PORT` or `:PORT` (all interfaces, for in-cluster use) -> (host, port)."""
    host, sep, port_text = raw.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"{flag}: expected HOST:PORT such as 127.0.0.1:8080 or :8080, got {raw!r}")
    return (host or "0.0.0.0", int(port_text))


@dataclass(frozen=True)
class Probes:
    healthy: Callable[[], tuple[bool, str]]
    ready: Callable[[], tuple[bool, str]]
    debug: Callable[[], dict[str, Any]]


class ControllerServer:
    def __init__(self, host: str, port: int, registry: CollectorRegistry, probes: Probes) -> None:
        handler = _handler(registry, probes)
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler(registry: CollectorRegistry, probes: Probes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                # Always the classic text format: our names have no colons, but keep one format.
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif path in ("/healthz", "/readyz"):
                ok, why = (probes.healthy if path == "/healthz" else probes.ready)()
                self._send(200 if ok else 503, (why or "ok").encode() + b"\n", "text/plain; charset=utf-8")
            elif path == "/debug/tick":
                body = json.dumps(probes.debug(), indent=2, sort_keys=True, default=str).encode()
                self._send(200, body, "application/json")
            else:
                self._send(404, b"not found\n", "text/plain; charset=utf-8")

        def log_message(self, fmt: str, *args: object) -> None:
            log.debug("http %s", fmt % args)

    return Handler
