"""A loopback stand-in for Slack's incoming webhooks and PagerDuty's Events API v2.

Alertmanager posts to `<url>/slack` and `<url>/pagerduty`; the sink records every JSON payload
with its arrival time, so tests can check routing, content and latency. It runs in a thread of the
calling process on 127.0.0.1 and answers like the real services do (Slack `200 ok`, PagerDuty
`202` with a dedup key).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from serving.stack.ports import LOOPBACK

SLACK = "slack"
PAGERDUTY = "pagerduty"


@dataclass(frozen=True)
class Notification:
    service: str
    payload: dict[str, Any]
    received_at: float  # time.time() when the request arrived


class NotificationSink:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[Notification] = []
        self._server = ThreadingHTTPServer((LOOPBACK, 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="notification-sink", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    def url(self, service: str) -> str:
        return f"http://{LOOPBACK}:{self.port}/{service}"

    def received(self, service: str | None = None) -> list[Notification]:
        with self._lock:
            return [n for n in self._received if service is None or n.service == service]

    def wait_for(
        self, predicate: Callable[[Notification], bool], timeout_s: float, poll_s: float = 0.05
    ) -> Notification:
        """The first recorded notification matching `predicate`; TimeoutError after timeout_s."""
        deadline = time.monotonic() + timeout_s
        while True:
            for n in self.received():
                if predicate(n):
                    return n
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no matching notification in {timeout_s:.0f} s; got {len(self.received())}")
            time.sleep(poll_s)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> NotificationSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _record(self, service: str, payload: dict[str, Any]) -> None:
        with self._lock:
            self._received.append(Notification(service, payload, time.time()))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                service = self.path.strip("/").split("/")[0]
                length = int(self.headers.get("Content-Length", "0"))
                try:
                    payload = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    self._reply(400, b'{"status":"invalid json"}')
                    return
                if service not in (SLACK, PAGERDUTY):
                    self._reply(404, b"unknown service")
                    return
                sink._record(service, payload)
                if service == SLACK:
                    self._reply(200, b"ok")
                else:
                    body = {"status": "success", "message": "Event processed", "dedup_key": payload.get("dedup_key")}
                    self._reply(202, json.dumps(body).encode())

            def _reply(self, code: int, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
