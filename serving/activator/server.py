"""One activator: wires the gate, the endpoint source, the wake Lease, metrics, records and the
proxy, serves them, and drains on SIGTERM.

Drain: readiness fails at once (/readyz 503) and new requests get a 503 with Retry-After and
`Connection: close`; in-flight answers and held requests get up to --drain-grace to finish (held
ones are still released if endpoints appear); whatever is left is refused (held) or cut
(streams), then the process exits. Ship a preStop sleep in front of SIGTERM so Service endpoints
stop sending new traffic before the drain begins.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from typing import Any

from aiohttp import web

from serving.activator.config import ENDPOINTS_SLICES, ActivatorConfig
from serving.activator.endpoints import EndpointSource, UpstreamHealth
from serving.activator.gate import HoldGate
from serving.activator.metrics import ActivatorMetrics
from serving.activator.proxy import Proxy, ProxySettings
from serving.activator.records import RecordSink
from serving.activator.release import ReleaseRamp
from serving.activator.wake import LeaseApi, WakeLease

log = logging.getLogger(__name__)

_DRAIN_POLL_S = 0.05


class Activator:
    def __init__(
        self,
        config: ActivatorConfig,
        *,
        source: EndpointSource | None = None,
        lease_api: LeaseApi | None = None,
    ) -> None:
        """`source` and `lease_api` default to the Kubernetes ones the config asks for; tests inject fakes."""
        self.config = config
        self.metrics = ActivatorMetrics(config.namespace, config.deployment)
        self._kube_client: Any = None
        self.source = source if source is not None else self._default_source()
        self.lease = self._make_lease(lease_api)
        self.gate = HoldGate(
            config.max_queue,
            ReleaseRamp(rate=config.release_rate, burst=config.release_burst),
            on_pending=self._on_pending,
            max_bytes=config.max_held_bytes,
        )
        self.records = RecordSink(config.records_dir, config.records_buffer) if config.records_dir is not None else None
        self.proxy = Proxy(
            ProxySettings(
                upstream=config.upstream,
                namespace=config.namespace,
                deployment=config.deployment,
                hold_timeout_s=config.hold_timeout_s,
                upstream_timeout_s=config.upstream_timeout_s,
                upstream_connect_timeout_s=config.upstream_connect_timeout_s,
                max_connections=config.upstream_max_connections,
                retry_after_s=config.retry_after_s,
            ),
            self.gate,
            self.source,
            self.metrics,
            self.records,
        )
        self._runners: list[web.AppRunner] = []
        self._stopped = asyncio.Event()
        self._hurry = asyncio.Event()  # a second signal: end the drain now
        self.port = 0
        self.metrics_port = 0
        self._drain_task: asyncio.Task[None] | None = None

    def _kube(self) -> Any:
        if self._kube_client is None:
            from serving.activator.kube import api_client

            self._kube_client = api_client(self.config.kubeconfig)
        return self._kube_client

    def _default_source(self) -> EndpointSource:
        if self.config.endpoints == ENDPOINTS_SLICES:
            from serving.activator.endpointslices import EndpointSlices, KubeEndpointSliceApi

            return EndpointSlices(KubeEndpointSliceApi(self._kube()), self.config.namespace, self.config.service)
        return UpstreamHealth(self.config.upstream, self.config.health_interval_s)

    def _make_lease(self, lease_api: LeaseApi | None) -> WakeLease | None:
        if self.config.wake_lease is None:
            return None
        if lease_api is None:
            from serving.activator.wake import KubeLeaseApi

            lease_api = KubeLeaseApi(self._kube())
        return WakeLease(
            lease_api,
            self.config.namespace,
            self.config.wake_lease,
            self.config.holder_identity,
            on_sent=self.metrics.wake_signals.inc,
        )

    def _on_pending(self, held: int, added: bool) -> None:
        self.metrics.set_pending(held)
        if self.lease is not None:
            self.lease.notify(held, added)

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, _request: web.Request) -> web.Response:
        if self.gate.draining:
            return web.Response(status=503, text="draining\n")
        return web.Response(text="ok\n")

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = self.metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})

    async def start(self) -> None:
        await self.proxy.start()
        if self.records is not None:
            self.records.start()
        app = web.Application(client_max_size=self.config.max_body_bytes, handler_args={"max_field_size": 16384})
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_route("*", "/{tail:.*}", self.proxy.handle)
        metrics_app = web.Application()
        metrics_app.router.add_get("/metrics", self._metrics)
        # handler_cancellation: a client that disconnects cancels its handler, which frees its place
        # in the hold queue and closes the upstream connection (vLLM then aborts the generation).
        self.port = await self._serve(app, self.config.bind.host, self.config.bind.port, handler_cancellation=True)
        self.metrics_port = await self._serve(metrics_app, self.config.metrics_bind.host, self.config.metrics_bind.port)
        # Listening before the source reports: requests that arrive meanwhile are held (and wake
        # the target) instead of being refused while the first EndpointSlice list is in flight.
        await self.source.start(self.gate.set_ready)
        log.info(
            "activator for %s/%s: proxy on %s:%d -> %s, metrics on %s:%d, wake lease %s",
            self.config.namespace,
            self.config.deployment,
            self.config.bind.host,
            self.port,
            self.config.upstream,
            self.config.metrics_bind.host,
            self.metrics_port,
            self.config.wake_lease or "off",
        )

    async def _serve(self, app: web.Application, host: str, port: int, handler_cancellation: bool = False) -> int:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0, handler_cancellation=handler_cancellation)
        await runner.setup()
        site = web.TCPSite(runner, host, port, backlog=4096, reuse_address=True)
        await site.start()
        self._runners.append(runner)
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else port

    async def drain(self) -> None:
        """Stop taking work, let in-flight and held requests finish within the grace, then stop."""
        if self.gate.draining:
            return
        grace = self.config.drain_grace_s
        log.info("draining: %d requests active, %d held; grace %.1f s", self.proxy.active, self.gate.held, grace)
        self.gate.drain()
        deadline = time.monotonic() + grace
        while self.proxy.active > 0 and time.monotonic() < deadline and not self._hurry.is_set():
            await asyncio.sleep(_DRAIN_POLL_S)
        refused = self.gate.reject_held()
        if refused or self.proxy.active:
            log.warning("drain grace over: %d held requests refused, %d answers cut", refused, self.proxy.active)
        # Let the refused held requests write their 503 before the sockets close.
        await asyncio.sleep(_DRAIN_POLL_S)
        await self.stop()

    async def stop(self) -> None:
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        await self.proxy.close()
        await self.source.stop()
        if self.lease is not None:
            await self.lease.stop()
        if self.records is not None:
            await asyncio.to_thread(self.records.close)
        self._stopped.set()

    async def run_until_signalled(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_signal, signum)
        await self._stopped.wait()

    def _on_signal(self, signum: int) -> None:
        if self.gate.draining:
            log.warning("received %s again: ending the drain now", signal.Signals(signum).name)
            self._hurry.set()
            return
        log.info("received %s", signal.Signals(signum).name)
        self._drain_task = asyncio.get_running_loop().create_task(self.drain())
