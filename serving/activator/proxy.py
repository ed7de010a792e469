"""The reverse proxy: one aiohttp handler for every path, in front of the model's Service.

Bytes pass unchanged: bodies are not decompressed or re-encoded (auto_decompress off, no
compression here), streamed answers are written to the client chunk by chunk as they arrive
(`iter_any`, no re-chunking to a fixed size) and non-streaming answers in one write. SSE answers
get `X-Accel-Buffering: no` so an nginx ingress in front does not buffer them either, the failure
users report for KEDA's interceptor.

Parsing happens only when records are on, and after the bytes went out: the proxy itself never
looks inside a request or response.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from serving.activator.endpoints import EndpointSource
from serving.activator.gate import HoldGate, Rejected
from serving.activator.metrics import CODE_CLIENT_GONE, ActivatorMetrics
from serving.activator.outcome import Outcome, build_record
from serving.activator.records import RecordSink
from serving.activator.responses import error_response
from serving.activator.usage import JsonCounter, SseCounter, json_counts

log = logging.getLogger(__name__)

OPENAI_PATHS = frozenset({"/v1/completions", "/v1/chat/completions"})
# RFC 9110 hop-by-hop headers, plus those the proxy recomputes (Host, Content-Length).
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "expect",
    }
)
# Without this aiohttp would add its own Accept, Accept-Encoding (then compressed answers reach
# clients that never asked for them), User-Agent and Content-Type.
_SKIP_AUTO = frozenset({"Accept", "Accept-Encoding", "User-Agent", "Content-Type"})
# vLLM's uvicorn closes idle keep-alive connections after 5 s; closing ours first means a pooled
# connection is never reused just as the server drops it (the "504 after idle" class of bugs).
POOL_KEEPALIVE_S = 4.0
_CONNECT_BACKOFF_S = (0.05, 1.0)
_URL_CACHE_SIZE = 256


@dataclass(frozen=True)
class ProxySettings:
    upstream: URL
    namespace: str
    deployment: str
    hold_timeout_s: float
    upstream_timeout_s: float
    upstream_connect_timeout_s: float
    max_connections: int
    retry_after_s: int


class Proxy:
    def __init__(
        self,
        settings: ProxySettings,
        gate: HoldGate,
        source: EndpointSource,
        metrics: ActivatorMetrics,
        records: RecordSink | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._s = settings
        self._base = str(settings.upstream).rstrip("/")
        self._gate = gate
        self._source = source
        self._metrics = metrics
        self._records = records
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self.active = 0  # handlers running, held ones included (drain waits for 0)
        self._urls: dict[str, URL] = {}

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self._s.max_connections,
            limit_per_host=0,
            keepalive_timeout=POOL_KEEPALIVE_S,
            ttl_dns_cache=10,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),  # never carry one client's cookies to another
            # No total: a 30,000-token stream runs for many minutes and is healthy while chunks
            # keep coming. The limit is on silence (sock_read), which also bounds a non-streaming
            # answer, whose headers arrive only when the generation is done.
            timeout=aiohttp.ClientTimeout(
                total=None,
                sock_connect=self._s.upstream_connect_timeout_s,
                sock_read=self._s.upstream_timeout_s,
            ),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def reject(self, reason: str) -> web.Response:
        self._metrics.rejected(reason)
        response = error_response(reason, self._s.retry_after_s, self._s.hold_timeout_s)
        self._metrics.request_done(response.status)
        return response

    async def handle(self, request: web.Request) -> web.StreamResponse:
        arrival = self._clock()
        arrival_wall = time.time()
        self.active += 1
        outcome = Outcome()
        body = b""
        try:
            if self._gate.draining:
                outcome.finish = "rejected"
                response = self.reject(Rejected.DRAINING)
                outcome.code = response.status
                return response
            try:
                body = await request.read()
            except web.HTTPException as exc:  # 413: larger than --max-body-bytes
                outcome.code, outcome.finish = exc.status, "rejected"
                self._metrics.request_done(exc.status)
                raise
            if not self._gate.passes():
                try:
                    outcome.hold_s = await self._gate.hold(self._s.hold_timeout_s, len(body))
                except Rejected as rejected:
                    outcome.finish = "timeout" if rejected.reason == Rejected.TIMEOUT else "rejected"
                    response = self.reject(rejected.reason)
                    outcome.code = response.status
                    return response
                self._metrics.hold.observe(outcome.hold_s)
            self._metrics.in_flight.inc()
            try:
                return await self._forward(request, body, arrival, outcome)
            finally:
                self._metrics.in_flight.dec()
        except asyncio.CancelledError:
            # The client went away (aiohttp cancels the handler); leaving here closes the upstream
            # connection, which is how vLLM learns to abort the generation.
            self._client_left(outcome)
            raise
        finally:
            self.active -= 1
            if self._records is not None and request.path in OPENAI_PATHS:
                self._record(request.path, body, arrival, arrival_wall, outcome)

    async def _forward(self, request: web.Request, body: bytes, arrival: float, outcome: Outcome) -> web.StreamResponse:
        assert self._session is not None
        url = self._urls.get(request.raw_path)
        if url is None:
            url = URL(self._base + request.raw_path, encoded=True)
            if len(self._urls) < _URL_CACHE_SIZE:  # OpenAI traffic uses a handful of paths
                self._urls[request.raw_path] = url
        headers = _forward_headers(request)
        deadline = arrival + self._s.hold_timeout_s
        backoff = _CONNECT_BACKOFF_S[0]
        retried_disconnect = False
        while True:
            try:
                upstream = await self._session.request(
                    request.method,
                    url,
                    headers=headers,
                    data=body or None,
                    allow_redirects=False,
                    skip_auto_headers=_SKIP_AUTO,
                )
                break
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                if isinstance(exc, aiohttp.ClientSSLError):
                    return self._upstream_failed(outcome, 502, f"TLS to the upstream failed: {exc}")
                # Nothing was sent: the Service has no live backend yet (a replica just went away,
                # or kube-proxy lags the EndpointSlice). Hold again within the same deadline.
                self._source.nudge()
                remaining = deadline - self._clock()
                if remaining <= 0:
                    outcome.finish = "timeout"
                    response = self.reject(Rejected.TIMEOUT)
                    outcome.code = response.status
                    return response
                await asyncio.sleep(min(backoff, remaining))
                backoff = min(backoff * 2, _CONNECT_BACKOFF_S[1])
                if not self._gate.passes():
                    try:
                        outcome.hold_s += await self._gate.hold(deadline - self._clock(), len(body))
                    except Rejected as rejected:
                        outcome.finish = "timeout" if rejected.reason == Rejected.TIMEOUT else "rejected"
                        response = self.reject(rejected.reason)
                        outcome.code = response.status
                        return response
            except aiohttp.ServerDisconnectedError as exc:
                # A pooled connection closed by the server as we sent on it; the request was not
                # processed, so one retry on a fresh connection is safe.
                if retried_disconnect:
                    return self._upstream_failed(outcome, 502, f"upstream closed the connection: {exc}")
                retried_disconnect = True
            except TimeoutError:
                return self._upstream_failed(outcome, 504, "upstream silent for longer than --upstream-timeout")
            except aiohttp.ClientError as exc:
                return self._upstream_failed(outcome, 502, f"upstream request failed: {exc}")
        return await self._relay(request, upstream, outcome)

    async def _relay(
        self, request: web.Request, upstream: aiohttp.ClientResponse, outcome: Outcome
    ) -> web.StreamResponse:
        headers = CIMultiDict[str]()
        for name, value in upstream.headers.items():
            if name.lower() not in _HOP_BY_HOP:
                headers.add(name, value)
        content_type = upstream.headers.get("Content-Type", "")
        sse = content_type.startswith("text/event-stream")
        outcome.code = upstream.status
        outcome.stream = sse
        try:
            if not sse and (
                upstream.content_length is not None or request.method == "HEAD" or upstream.status in (204, 304)
            ):
                try:
                    data = await upstream.read()
                except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, TimeoutError) as exc:
                    upstream.close()
                    if isinstance(exc, TimeoutError):
                        return self._upstream_failed(outcome, 504, "upstream silent for longer than --upstream-timeout")
                    return self._upstream_failed(outcome, 502, f"upstream answer broke off: {exc!r}")
                response = web.Response(status=upstream.status, body=data, headers=headers)
                try:
                    await response.prepare(request)
                    await response.write_eof()
                except ConnectionError:
                    raise _ClientGone() from None
                self._metrics.request_done(upstream.status)
                if self._records is not None and request.path in OPENAI_PATHS:
                    outcome.counts = json_counts(data, self._clock())
                upstream.release()
                return response
            if sse:
                headers["X-Accel-Buffering"] = "no"
            stream = web.StreamResponse(status=upstream.status, headers=headers)
            try:
                await stream.prepare(request)
            except ConnectionError:
                raise _ClientGone() from None
            counter: SseCounter | JsonCounter | None = None
            if self._records is not None and request.path in OPENAI_PATHS:
                counter = outcome.counter = SseCounter() if sse else JsonCounter()
            read = upstream.content.readany
            while True:
                try:
                    chunk = await read()
                except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, TimeoutError) as exc:
                    return self._broken_stream(request, upstream, stream, outcome, exc)
                if not chunk:
                    break
                try:
                    await stream.write(chunk)
                except ConnectionError:  # aiohttp's ClientConnectionResetError is one
                    raise _ClientGone() from None
                if counter is not None:
                    counter.feed(chunk, self._clock())
                    if isinstance(counter, SseCounter) and counter.finished:
                        # The finishing chunk reached the client: from here a hang-up (clients
                        # often close right after `data: [DONE]`) is not an abort.
                        outcome.complete = True
            # Every chunk went out. A client that hangs up now (e.g. right after `data: [DONE]`)
            # got the whole answer: not an abort, whether the final drain fails or is cancelled.
            outcome.complete = True
            upstream.release()
            try:
                await stream.write_eof()
            except ConnectionError:
                log.debug("client closed before the final chunk of a complete answer")
            self._metrics.request_done(upstream.status)
            return stream
        except _ClientGone:
            upstream.close()
            return web.Response(status=self._client_left(outcome))
        except BaseException:
            upstream.close()
            raise

    def _client_left(self, outcome: Outcome) -> int:
        """The client hung up: an abort, unless it already had the whole answer (only trailing bytes
        were lost). Counts the request once and returns the code it is recorded with."""
        if not outcome.complete:
            outcome.code = int(CODE_CLIENT_GONE)
            outcome.finish = "abort"
        self._metrics.request_done(outcome.code)
        return outcome.code

    def _broken_stream(
        self,
        request: web.Request,
        upstream: aiohttp.ClientResponse,
        stream: web.StreamResponse,
        outcome: Outcome,
        exc: BaseException,
    ) -> web.StreamResponse:
        """The upstream failed after the status went out: cut the client off without the last chunk.

        A chunked answer without its terminating chunk is how HTTP/1.1 says "incomplete"; ending it
        cleanly would make a truncated completion look whole.
        """
        log.warning("upstream stream broke after headers: %r", exc)
        outcome.finish = "timeout" if isinstance(exc, TimeoutError) else "error"
        self._metrics.request_done(502)
        upstream.close()
        if request.transport is not None:
            request.transport.close()
        return stream

    def _upstream_failed(self, outcome: Outcome, status: int, message: str) -> web.Response:
        log.warning("%s", message)
        outcome.code = status
        outcome.finish = "timeout" if status == 504 else "error"
        self._metrics.request_done(status)
        return error_response(
            "upstream_timeout" if status == 504 else "upstream_error", self._s.retry_after_s, 0.0, message
        )

    def _record(self, path: str, body: bytes, arrival: float, arrival_wall: float, outcome: Outcome) -> None:
        assert self._records is not None
        self._records.put(
            build_record(
                outcome,
                namespace=self._s.namespace,
                deployment=self._s.deployment,
                path=path,
                body=body,
                arrival=arrival,
                arrival_wall=arrival_wall,
                end=self._clock(),
            )
        )


class _ClientGone(Exception):
    """The client closed its connection while we were writing to it."""


def _forward_headers(request: web.Request) -> CIMultiDict[str]:
    headers = CIMultiDict[str]()
    for name, value in request.headers.items():
        if name.lower() not in _HOP_BY_HOP:
            headers.add(name, value)
    peer = request.remote
    if peer:
        previous = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{previous}, {peer}" if previous else peer
    return headers
