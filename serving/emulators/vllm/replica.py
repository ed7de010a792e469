"""One emulated vLLM replica: an engine model stepped in real time, its requests and its metrics registry."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import random
import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from serving.emulators.vllm.faults import Faults
from serving.emulators.vllm.http_metrics import HttpMetrics
from serving.emulators.vllm.metric_names import Naming
from serving.emulators.vllm.text import GenerationPlan
from serving.emulators.vllm.vllm_collector import CacheConfigCollector, VllmCollector
from serving.engine import FinishedRequest, FinishReason, ReplicaConfig, ReplicaEngine

# Longest the engine loop sleeps without looking at its wake-up event.
IDLE_POLL_S = 0.5
_request_ids = itertools.count(1)


class ReplicaState(enum.StrEnum):
    STARTING = "starting"
    READY = "ready"
    DRAINING = "draining"
    STOPPED = "stopped"


@dataclass
class RequestStream:
    """What a request handler waits on: tokens generated so far and, at the end, the record."""

    request_id: str
    plan: GenerationPlan
    available: int = 0
    finished: FinishedRequest | None = None
    abort_after_first_token: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True, slots=True)
class ReplicaSpec:
    """How to build a replica."""

    name: str
    config: ReplicaConfig
    model_name: str
    labels: dict[str, str]
    naming: Naming = field(default_factory=Naming)
    time_scale: float = 1.0
    # Seconds (wall) before /health turns 200 and the service sends traffic.
    startup_s: float = 0.0
    seed: int = 0


class EmulatedReplica:
    """The engine loop and request bookkeeping of one replica (the HTTP side is in openai_api)."""

    def __init__(self, spec: ReplicaSpec, port: int) -> None:
        self.spec = spec
        self.port = port
        self.engine = ReplicaEngine(spec.config)
        self.faults = Faults()
        self.state = ReplicaState.STARTING
        self.created_wall = time.time()
        # In-flight HTTP requests on this replica's port, and those the service routed here.
        self.outstanding = 0
        self.routed = 0
        self._wall0 = time.monotonic()
        self._ready_at = self._wall0 + spec.startup_s
        self._rng = random.Random(spec.seed)
        self._streams: dict[str, RequestStream] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.registry = CollectorRegistry()
        GCCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        ProcessCollector(registry=self.registry)
        self.registry.register(VllmCollector(self.engine, spec.model_name, spec.naming, self.created_wall, lambda: 0))
        self.http_metrics = HttpMetrics(self.registry)
        self.registry.register(CacheConfigCollector(self._cache_config_labels(), spec.naming))

    @property
    def name(self) -> str:
        return self.spec.name

    def _cache_config_labels(self) -> dict[str, str]:
        config = self.spec.config
        return {
            "block_size": str(config.block_size),
            "cache_dtype": "auto",
            "enable_prefix_caching": "True",
            "gpu_memory_utilization": str(config.gpu_memory_utilization),
            "kv_offloading_backend": "native",
            "kv_offloading_size": "None",
            "num_cpu_blocks": "None",
            "num_gpu_blocks": str(config.num_gpu_blocks),
            "num_gpu_blocks_override": "None",
            "prefix_caching_hash_algo": "sha256",
            "sliding_window": "None",
        }

    # ----- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"engine-{self.name}")

    @property
    def ready(self) -> bool:
        if self.state is ReplicaState.STARTING and time.monotonic() >= self._ready_at:
            self.state = ReplicaState.READY
        return self.state is ReplicaState.READY

    async def drain(self, timeout_s: float) -> bool:
        """Stop taking traffic and wait (bounded) for in-flight requests; True if all finished."""
        self.state = ReplicaState.DRAINING
        deadline = time.monotonic() + timeout_s
        while (self.outstanding or self._streams) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return not (self.outstanding or self._streams)

    async def stop(self) -> None:
        self.state = ReplicaState.STOPPED
        for request_id in list(self._streams):
            self.abort(request_id)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # ----- time --------------------------------------------------------------------------

    def engine_now(self) -> float:
        """Engine seconds since start: wall seconds times the time scale."""
        return (time.monotonic() - self._wall0) * self.spec.time_scale

    def engine_to_wall_delay(self, engine_s: float) -> float:
        return engine_s / self.spec.time_scale

    # ----- requests ----------------------------------------------------------------------

    def submit(self, plan: GenerationPlan) -> RequestStream:
        """Queue a request in the engine; the stream fills as the engine loop steps."""
        request_id = f"{self.name}-{next(_request_ids)}"
        stream = RequestStream(request_id, plan)
        now = self.engine_now()
        self.engine.add_request(
            request_id,
            plan.prompt_tokens,
            plan.output_tokens,
            now,
            finish_reason=plan.finish_reason,
            max_tokens_param=plan.max_tokens_param,
        )
        draw = self._rng.random()
        if draw < self.faults.error_fraction:
            stream.finished = self.engine.abort(request_id, now, FinishReason.ERROR)
            return stream
        stream.abort_after_first_token = draw < self.faults.error_fraction + self.faults.abort_fraction
        self._streams[request_id] = stream
        self._wake.set()
        return stream

    def abort(self, request_id: str) -> None:
        """The client went away (or the replica stops): drop the request as vLLM does."""
        stream = self._streams.pop(request_id, None)
        finished = self.engine.abort(request_id, self.engine_now())
        if stream is not None:
            stream.finished = finished
            stream.changed.set()

    # ----- faults ------------------------------------------------------------------------

    def apply_faults(self, faults: Faults, preempt: int = 0) -> None:
        was_paused = self.faults.paused
        self.faults = faults
        self.engine.slowdown = faults.slowdown
        self.engine.reserve_blocks(int(faults.kv_fill * self.spec.config.num_gpu_blocks))
        if was_paused and not faults.paused:
            # The paused interval is not engine work: nothing may run "in the past".
            self.engine.free_at = max(self.engine.free_at, self.engine_now())
        if preempt:
            self.engine.preempt_newest(preempt)
        self._wake.set()

    # ----- the engine loop ---------------------------------------------------------------

    async def _sleep_or_wake(self, wall_s: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, min(wall_s, IDLE_POLL_S)))

    async def _run(self) -> None:
        while True:
            if self.faults.paused:
                await self._sleep_or_wake(IDLE_POLL_S)
                continue
            now = self.engine_now()
            start = self.engine.next_step_start()
            if start is None:
                await self._sleep_or_wake(IDLE_POLL_S)
                continue
            if start > now:
                await self._sleep_or_wake(self.engine_to_wall_delay(start - now))
                continue
            # Every step due by now runs (a late loop catches up), then we wait for the last to end.
            progress = self.engine.advance(now + 1e-9)
            if progress.num_steps == 0 and not progress.finished:
                # Work is queued but nothing fits (KV held by a fault): wait for a change.
                await self._sleep_or_wake(IDLE_POLL_S)
                continue
            if progress.end_s is not None:
                delay = self.engine_to_wall_delay(progress.end_s - self.engine_now())
                if delay > 0:
                    await asyncio.sleep(delay)
            for done in progress.finished:
                self._deliver_finished(done)
            self._deliver_tokens()

    def _deliver_finished(self, done: FinishedRequest) -> None:
        stream = self._streams.pop(done.request_id, None)
        if stream is not None:
            stream.available = done.output_tokens
            stream.finished = done
            stream.changed.set()

    def _deliver_tokens(self) -> None:
        aborting: list[str] = []
        for request_id, stream in self._streams.items():
            generated = self.engine.generated_tokens(request_id)
            if generated is not None and generated > stream.available:
                stream.available = generated
                stream.changed.set()
                if stream.abort_after_first_token:
                    aborting.append(request_id)
        for request_id in aborting:
            self.abort(request_id)

    # ----- reporting ---------------------------------------------------------------------

    def load(self) -> dict[str, float]:
        return {
            "outstanding": self.outstanding,
            "routed": self.routed,
            "running": self.engine.num_running,
            "waiting": self.engine.num_waiting,
            "kv_usage": self.engine.kv_usage,
        }

    def describe(self) -> dict[str, object]:
        """The admin API's view of this replica (also what a standalone DCGM emulator polls)."""
        config = self.spec.config
        snapshot = self.engine.snapshot(self.engine_now())
        return {
            "name": self.name,
            "port": self.port,
            "url": f"http://127.0.0.1:{self.port}",
            "state": self.state.value if not self.ready else ReplicaState.READY.value,
            "labels": dict(self.spec.labels),
            "model_name": self.spec.model_name,
            "gpu": config.gpu.name,
            "tensor_parallel": config.tensor_parallel,
            "load": self.load(),
            "faults": self.faults.to_json(),
            "engine": {
                "now_s": snapshot.now_s,
                "busy_s": snapshot.busy_s,
                "used_blocks": snapshot.used_blocks,
                "total_blocks": snapshot.total_blocks,
                "kv_bytes_per_block": config.model.kv_bytes_per_token * config.block_size,
                "weights_bytes": config.model.weights_bytes,
                "kv_cache_bytes": config.kv_cache_bytes,
                "generation_tokens": snapshot.generation_tokens,
                "prompt_tokens": snapshot.prompt_tokens,
            },
        }
