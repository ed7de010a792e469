"""A minimal Prometheus HTTP API client for the preview (standard library only).

The dashboards package may not depend on the rest of tokenscale, so it carries its own few lines
instead of using `metrics/`' adapter.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any


class QueryFailed(RuntimeError):
    """Prometheus refused or failed a query; the message carries its error text."""


@dataclass(frozen=True)
class PrometheusClient:
    url: str
    timeout_s: float = 30.0

    def _get(self, path: str, params: dict[str, str]) -> Any:
        address = f"{self.url.rstrip('/')}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(address, timeout=self.timeout_s) as response:
                body = json.load(response)
        except urllib.error.HTTPError as error:
            # Bad queries come back as 400/422 with a JSON error body worth showing.
            try:
                body = json.load(error)
            except (json.JSONDecodeError, OSError):
                raise QueryFailed(f"{path}: HTTP {error.code}") from error
        if body.get("status") != "success":
            raise QueryFailed(f"{path}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def instant(self, expr: str, at: float) -> list[dict[str, Any]]:
        """`/api/v1/query` at `at`; vector results only (scalars are wrapped as one unlabelled series)."""
        data = self._get("query", {"query": expr, "time": f"{at:.3f}"})
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def range(self, expr: str, start: float, end: float, step_s: int) -> list[dict[str, Any]]:
        data = self._get(
            "query_range", {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step_s}s"}
        )
        result: list[dict[str, Any]] = data["result"]
        return result
