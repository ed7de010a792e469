"""`tokenscale run`: wire the adapters, the loop, the scheduler and the HTTP endpoints.

Ticks run on an apscheduler interval job (max_instances=1, coalesce) in a background thread. A wake
signal from an activator reschedules the job to run now; if a tick is already running, the next
one starts as soon as it ends. Shutdown stops scheduling, lets the running tick finish, releases
the leader Lease and stops the watch caches.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from kubernetes import client, config
from prometheus_client import CollectorRegistry

from metrics.catalog import Attribution, ScrapeLayout
from metrics.exporter import ControllerMetrics
from metrics.prometheus import PrometheusSource
from scaler.kube.cluster import KubernetesCluster
from scaler.kube.leader import ElectionTiming, LeaderElector
from scaler.kube.targets import TargetInfo
from scaler.loop import Controller, ControllerConfig, CostFunction, PriceLookup, SignalSource
from scaler.ports import ClusterPort
from scaler.server import ControllerServer, Probes, parse_bind_address

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    prometheus_url: str
    interval_s: float = 5.0
    shadow: bool = False
    namespaces: tuple[str, ...] = ()
    kubeconfig: Path | None = None
    metrics_bind_address: str = "127.0.0.1:8080"
    leader_elect: bool = False
    lease_name: str = "tokenscale-controller"
    lease_namespace: str = ""
    identity: str = field(default_factory=lambda: os.environ.get("POD_NAME") or socket.gethostname())
    layout: ScrapeLayout = field(default_factory=ScrapeLayout)
    prometheus_timeout_s: float = 5.0
    prometheus_bearer_token_file: Path | None = None
    election: ElectionTiming = field(default_factory=ElectionTiming)
    prices_file: Path | None = None

    def __post_init__(self) -> None:
        if not 0.2 <= self.interval_s <= 600:
            raise ValueError(f"--interval: expected 0.2 to 600 seconds, got {self.interval_s:g}")
        parse_bind_address(self.metrics_bind_address)
        if self.leader_elect and not (self.lease_namespace or os.environ.get("POD_NAMESPACE")):
            raise ValueError("--lease-namespace: required with --leader-elect (or set POD_NAMESPACE)")


def load_api_client(kubeconfig: Path | None) -> client.ApiClient:
    """In-cluster credentials when running in a pod, else the given or default kubeconfig."""
    configuration = client.Configuration()
    if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config(client_configuration=configuration)
    else:
        config.load_kube_config(config_file=str(kubeconfig) if kubeconfig else None, client_configuration=configuration)
    return client.ApiClient(configuration)


class Runner:
    def __init__(
        self,
        options: RunOptions,
        *,
        cluster: ClusterPort | None = None,
        source: SignalSource | None = None,
        registry: CollectorRegistry | None = None,
        price: PriceLookup | None = None,
        cost: CostFunction | None = None,
    ) -> None:
        self.options = options
        self.registry = registry or CollectorRegistry()
        self._api: client.ApiClient | None = None
        self._kube: KubernetesCluster | None = None
        if cluster is None:
            self._api = load_api_client(options.kubeconfig)
            self._kube = KubernetesCluster(self._api, identity=options.identity, namespaces=options.namespaces)
            cluster = self._kube
        self.cluster = cluster
        self.source = source or PrometheusSource(
            options.prometheus_url,
            timeout_s=options.prometheus_timeout_s,
            bearer_token_file=options.prometheus_bearer_token_file,
        )
        self.elector: LeaderElector | None = None
        if options.leader_elect:
            if self._api is None:
                raise ValueError("--leader-elect needs a Kubernetes API server")
            namespace = options.lease_namespace or os.environ.get("POD_NAMESPACE", "")
            self.elector = LeaderElector(self._api, namespace, options.lease_name, options.identity, options.election)
        self.metrics = ControllerMetrics(self.registry)
        if price is None:
            price = price_lookup(options.prices_file)
        if cost is None:
            from metrics.cost.live import cost_per_million_by_token_type

            cost = cost_per_million_by_token_type
        is_leader: Callable[[], bool] = self.elector.is_leader if self.elector else (lambda: True)
        self.controller = Controller(
            cluster,
            self.source,
            self.metrics,
            ControllerConfig(layout=options.layout, shadow=options.shadow),
            is_leader=is_leader,
            price=price,
            cost=cost,
        )
        host, port = parse_bind_address(options.metrics_bind_address)
        self.server = ControllerServer(host, port, self.registry, Probes(self._healthy, self._ready, self._debug))
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self._stop = threading.Event()
        self._tick_lock = threading.Lock()
        self._rerun = threading.Event()
        self._last_attempt = time.monotonic()
        self._ticks_done = 0
        self._started = time.monotonic()

    # --- probes ----------------------------------------------------------------------------------
    def _healthy(self) -> tuple[bool, str]:
        wedged_after = max(60.0, 10 * self.options.interval_s)
        idle = time.monotonic() - self._last_attempt
        if self.scheduler.running and idle < wedged_after:
            return True, "ok"
        return False, f"no tick attempted for {idle:.0f} s"

    def _ready(self) -> tuple[bool, str]:
        if self._ticks_done == 0:
            return False, "no tick completed yet"
        return True, "ok"

    def _debug(self) -> dict[str, Any]:
        record = self.controller.last
        if record is None:
            return {"tick": None}
        return {
            "at": record.at,
            "duration_s": record.duration_s,
            "outcome": record.outcome,
            "leader": record.leader,
            "failed_queries": record.results.failed,
            "targets": [
                {
                    "namespace": o.target.autoscaler.namespace,
                    "autoscaler": o.target.autoscaler.name,
                    "deployment": o.target.target_name,
                    "desired": o.decision.desired_replicas,
                    "current": o.decision.current_replicas,
                    "ready": o.target.kube.ready_replicas if o.target.kube else None,
                    "reason": o.decision.reason.value,
                    "message": o.decision.message,
                    "observed": dict(o.decision.observed),
                    "limits": [r.value for r in o.decision.limits],
                    "scaled": o.scaled.applied if o.scaled else None,
                    "write_error": o.write_error,
                }
                for o in record.outcomes
            ],
        }

    # --- ticking ---------------------------------------------------------------------------------
    def tick_now(self) -> None:
        """Run a tick as soon as possible (called from any thread, e.g. on a wake signal)."""
        if self._tick_lock.locked():
            self._rerun.set()
            return
        try:
            self.scheduler.modify_job("tick", next_run_time=dt.datetime.now(dt.UTC))
        except Exception:  # scheduler not started or shutting down
            self._rerun.set()

    def _tick(self) -> None:
        with self._tick_lock:
            self._last_attempt = time.monotonic()
            try:
                record = self.controller.tick()
                log.debug("tick %s in %.3f s", record.outcome, record.duration_s)
            except Exception:
                log.exception("tick failed")
            self._ticks_done += 1
        if self._rerun.is_set() and not self._stop.is_set():
            self._rerun.clear()
            self.tick_now()

    def _scheduler_event(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MAX_INSTANCES:
            log.warning("tick skipped: the previous one is still running (interval %.1f s)", self.options.interval_s)
            self._rerun.set()
        elif event.code == EVENT_JOB_MISSED:
            log.warning("tick missed its start time by more than the grace period")

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self.server.start()
        if self._kube is not None and not self._kube.start(sync_timeout_s=30):
            log.warning("watch caches not in sync after 30 s; decisions hold until they are")
        if self.elector is not None:
            self.elector.start()
        self.cluster.on_poke(self.tick_now)
        self.scheduler.add_listener(self._scheduler_event, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
        self.scheduler.add_job(
            self._tick,
            "interval",
            seconds=self.options.interval_s,
            id="tick",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(self.options.interval_s)),
            next_run_time=dt.datetime.now(dt.UTC),
        )
        self.scheduler.start()
        log.info(
            "tokenscale controller running: prometheus %s, interval %.1f s, %s, metrics on port %d",
            self.options.prometheus_url,
            self.options.interval_s,
            "shadow mode" if self.options.shadow else "actuating",
            self.server.port,
        )

    def stop(self) -> None:
        self._stop.set()
        if self.scheduler.running:
            self.scheduler.pause()
            with self._tick_lock:  # let the running tick finish
                pass
            self.scheduler.shutdown(wait=True)
        # /metrics goes before the Lease: its last tick said tokenscale_leader 1, and once the
        # Lease is released a successor leads within one retry period; both must never be scraped.
        self.server.stop()
        if self.elector is not None:
            self.elector.stop(release=True)
        if self._kube is not None:
            self._kube.stop()
        log.info("tokenscale controller stopped")

    def run_forever(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self._stop.set())
        self.start()
        try:
            while not self._stop.wait(1.0):
                pass
        finally:
            self.stop()
        return 0


def price_lookup(prices_file: Path | None) -> PriceLookup:
    """Price per GPU-hour for a target: the autoscaler's, the namespace's, the price file's, the table's."""
    from metrics.cost.price_file import load_price_book
    from metrics.cost.prices import resolve_price

    book = load_price_book(prices_file)

    def lookup(target: TargetInfo) -> float | None:
        spec = target.spec
        quote = resolve_price(
            book,
            namespace=target.autoscaler.namespace,
            gpu_model=target.gpu_model_hint or None,
            spot=spec.cost.spot if spec else False,
            autoscaler_price=spec.cost.price_per_gpu_hour if spec else None,
        )
        return quote.price_per_gpu_hour

    return lookup


def layout_from_flags(attribution: str, rate_window: str, vllm_matchers: str | None) -> ScrapeLayout:
    try:
        how = Attribution(attribution)
    except ValueError:
        choices = ", ".join(a.value for a in Attribution)
        raise ValueError(f"--attribution: expected one of {choices}, got {attribution!r}") from None
    if vllm_matchers is None:
        return ScrapeLayout(attribution=how, rate_window=rate_window)
    return ScrapeLayout(attribution=how, rate_window=rate_window, vllm_matchers=vllm_matchers)
