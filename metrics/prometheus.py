"""The Prometheus adapter: instant queries through prometheus-api-client with typed errors.

Error tree (catch the level you care about):

    PrometheusError
    +-- PrometheusUnreachable   connection refused, DNS, TLS: nothing answered
    +-- PrometheusTimeout       the query did not finish within the timeout
    +-- PrometheusBadResponse   an answer that is not a usable instant vector (HTTP error, bad JSON,
                                a scalar where a vector was expected, a query Prometheus rejects)

Every query carries an explicit evaluation time (the tick's clock), never the library's defaults,
which prometheus-api-client computes at import time. An empty result is a valid answer ([]),
never an error and never zero.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from metrics.catalog import QueryGroup


class PrometheusError(Exception):
    """Base of every failure to get an answer from Prometheus."""

    kind = "error"


class PrometheusUnreachable(PrometheusError):
    kind = "unreachable"


class PrometheusTimeout(PrometheusError):
    kind = "timeout"


class PrometheusBadResponse(PrometheusError):
    kind = "bad_response"


Series = Mapping[str, Any]


@dataclass(frozen=True)
class QueryOutcome:
    """One query's result or error, and how long it took."""

    group: QueryGroup
    series: tuple[Series, ...] = ()
    error: PrometheusError | None = None
    duration_s: float = 0.0


@dataclass(frozen=True)
class TickResults:
    """All of one tick's queries. The number of queries is the number of groups, fixed."""

    at: float
    outcomes: tuple[QueryOutcome, ...] = field(default_factory=tuple)

    @property
    def results(self) -> dict[QueryGroup, tuple[Series, ...]]:
        return {o.group: o.series for o in self.outcomes if o.error is None}

    @property
    def failed(self) -> dict[QueryGroup, str]:
        return {o.group: f"{o.error.kind}: {o.error}" for o in self.outcomes if o.error is not None}


class PrometheusSource:
    """Instant queries against one Prometheus, with a bounded timeout and at most one retry."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        bearer_token_file: Path | None = None,
        verify_tls: bool = True,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"prometheus url: expected http(s)://host:port, got {url!r}")
        if not 0 < timeout_s <= 300:
            raise ValueError(f"prometheus timeout: expected 0 < seconds <= 300, got {timeout_s!r}")
        self.url = url.rstrip("/")
        self._timeout_s = timeout_s
        self._token_file = bearer_token_file
        self._clock = clock
        # One quick retry on a dropped connection or a 502/503/504: a tick must stay short.
        # read=False re-raises read timeouts as such instead of folding them into a retry error.
        retry = Retry(total=1, connect=1, read=False, backoff_factor=0.1, status_forcelist=(502, 503, 504))
        self._client = PrometheusConnect(url=self.url, disable_ssl=not verify_tls, retry=retry)
        self._pool = ThreadPoolExecutor(max_workers=len(QueryGroup), thread_name_prefix="prometheus")

    def _headers(self) -> dict[str, str] | None:
        if self._token_file is None:
            return None
        # Re-read every time: projected service-account tokens rotate.
        return {"Authorization": f"Bearer {self._token_file.read_text().strip()}"}

    def instant(self, expr: str, at: float) -> tuple[Series, ...]:
        """Evaluate `expr` at unix time `at`; return the instant vector (possibly empty)."""
        if not math.isfinite(at):
            raise ValueError(f"at: expected a unix time, got {at!r}")
        self._client.headers = self._headers()
        try:
            raw = self._client.custom_query(expr, params={"time": f"{at:.3f}"}, timeout=self._timeout_s)
        except requests.exceptions.JSONDecodeError as exc:
            raise PrometheusBadResponse(f"{self.url}: the answer is not JSON: {_short(exc)}") from exc
        except requests.exceptions.Timeout as exc:
            raise PrometheusTimeout(f"{self.url}: no answer within {self._timeout_s:g} s") from exc
        except requests.exceptions.ConnectionError as exc:
            raise PrometheusUnreachable(f"{self.url}: {_short(exc)}") from exc
        except requests.exceptions.RequestException as exc:
            raise PrometheusUnreachable(f"{self.url}: {_short(exc)}") from exc
        except PrometheusApiClientException as exc:
            raise PrometheusBadResponse(f"{self.url}: {_short(exc)}") from exc
        except (ValueError, KeyError, TypeError) as exc:  # JSON that is not Prometheus' envelope
            raise PrometheusBadResponse(f"{self.url}: unreadable answer: {_short(exc)}") from exc
        if not isinstance(raw, list) or (raw and not isinstance(raw[0], dict)):
            raise PrometheusBadResponse(f"{self.url}: expected an instant vector, got {str(raw)[:120]}")
        return tuple(raw)

    def range(self, expr: str, start: float, end: float, step_s: float) -> tuple[Series, ...]:
        """A range query with explicit start, end and step (never the library's stale defaults)."""
        if not (math.isfinite(start) and math.isfinite(end) and end >= start and step_s > 0):
            raise ValueError(f"range: need start <= end and step > 0, got {start!r}, {end!r}, {step_s!r}")
        self._client.headers = self._headers()
        try:
            raw = self._client.custom_query_range(
                expr, start_time=_utc(start), end_time=_utc(end), step=f"{step_s:g}s", params={"timeout": "60s"}
            )
        except requests.exceptions.Timeout as exc:
            raise PrometheusTimeout(f"{self.url}: range query timed out") from exc
        except requests.exceptions.RequestException as exc:
            raise PrometheusUnreachable(f"{self.url}: {_short(exc)}") from exc
        except (PrometheusApiClientException, ValueError, KeyError, TypeError) as exc:
            raise PrometheusBadResponse(f"{self.url}: {_short(exc)}") from exc
        if not isinstance(raw, list):
            raise PrometheusBadResponse(f"{self.url}: expected a matrix, got {str(raw)[:120]}")
        return tuple(raw)

    def _one(self, group: QueryGroup, expr: str, at: float) -> QueryOutcome:
        started = self._clock()
        try:
            series = self.instant(expr, at)
        except PrometheusError as exc:
            return QueryOutcome(group, error=exc, duration_s=self._clock() - started)
        return QueryOutcome(group, series=series, duration_s=self._clock() - started)

    def run(self, queries: Mapping[QueryGroup, str], at: float) -> TickResults:
        """Run every group's query at `at`, concurrently; one failing query doesn't stop the others.

        Prometheus evaluates queries in parallel, so the tick waits for the slowest query rather
        than the sum of all of them.
        """
        if len(queries) <= 1:
            return TickResults(at=at, outcomes=tuple(self._one(g, q, at) for g, q in queries.items()))
        futures = [self._pool.submit(self._one, group, expr, at) for group, expr in queries.items()]
        return TickResults(at=at, outcomes=tuple(f.result() for f in futures))

    def close(self) -> None:
        self._pool.shutdown(wait=False)


def _utc(at: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(at, dt.UTC)


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."
