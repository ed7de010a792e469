"""Settings of one simulation run that do not depend on the policy: hardware, SLOs, the cluster,
the metrics pipeline and the request path."""

from __future__ import annotations

from dataclasses import dataclass, field

from scaler.sim.coldstart import ColdStart
from serving.engine import H100, LLAMA_3_1_8B, GpuSpec, ModelSpec, ReplicaConfig


@dataclass(frozen=True, slots=True)
class SimConfig:
    model: ModelSpec = LLAMA_3_1_8B
    gpu: GpuSpec = H100
    tensor_parallel: int = 1
    # A request meets the TTFT SLO when TTFT <= ttft_slo_s + the time an idle replica needs to
    # prefill its prompt; the ITL SLO when its mean inter-token gap is <= itl_slo_s.
    ttft_slo_s: float = 1.0
    itl_slo_s: float = 0.1
    # Cluster: GPUs that pods may hold at once (more pods stay Pending/Unschedulable).
    gpu_limit: int = 64
    gpus_per_node: int = 8
    cold_start: ColdStart = field(default_factory=ColdStart)
    # Deleted pods stop taking requests at once and get this long to finish in-flight ones
    # (KServe ships a 60 s grace period for vLLM); what is left is aborted and counted dropped.
    drain_grace_s: float = 60.0
    # Prometheus: every pod (and the activator) scraped at this interval, 5 min lookback.
    scrape_interval_s: float = 15.0
    rate_window_s: float = 60.0
    lookback_s: float = 300.0
    # The activator (tokenscale's, Knative's, or KEDA's HTTP interceptor): holds requests while no
    # replica is ready, at most max_queue of them and for at most hold_timeout_s (tokenscale
    # activator defaults); the wake signal reaches the autoscaler after poke_delay_s.
    activator_max_queue: int = 1000
    activator_hold_timeout_s: float = 300.0
    poke_delay_s: float = 0.1
    # Engines are advanced and finished requests collected at least this often.
    housekeeping_s: float = 1.0
    # Ready replicas each Deployment starts with: None derives it from the first two minutes of
    # demand at `initial_concurrency_per_replica` in flight per replica (the same for all policies).
    initial_replicas: int | None = None
    initial_concurrency_per_replica: float = 16.0
    # A replay of the trace's first warmup_s seconds runs before t=0, unbilled and unmeasured, so
    # every policy meets the measured period in its own steady state (run.simulate applies it).
    warmup_s: float = 600.0
    # After the last arrival the run continues until every request is done, at most this long.
    max_drain_s: float = 1800.0
    seed: int = 0
    usd_per_gpu_hour: float | None = None

    def __post_init__(self) -> None:
        if self.ttft_slo_s <= 0 or self.itl_slo_s <= 0:
            raise ValueError("SLO thresholds must be > 0")
        if self.gpu_limit < self.tensor_parallel:
            raise ValueError(f"gpu_limit {self.gpu_limit} cannot hold one replica of {self.tensor_parallel} GPUs")
        if self.gpus_per_node < self.tensor_parallel:
            raise ValueError(f"gpus_per_node {self.gpus_per_node} < tensor_parallel {self.tensor_parallel}")
        if self.scrape_interval_s <= 0 or self.rate_window_s < 2 * self.scrape_interval_s:
            raise ValueError("rate_window_s must cover at least two scrapes")

    def replica(self) -> ReplicaConfig:
        return ReplicaConfig(gpu=self.gpu, model=self.model, tensor_parallel=self.tensor_parallel)

    @property
    def price_per_replica_hour(self) -> float:
        per_gpu = self.gpu.usd_per_gpu_hour if self.usd_per_gpu_hour is None else self.usd_per_gpu_hour
        return per_gpu * self.tensor_parallel
