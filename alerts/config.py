"""Everything about the rules that differs between clusters, in one value (like a mixin's _config).

Thresholds that are request latencies (TTFT, ITL) are never time-scaled; windows, `for:` and time
thresholds (tick age, wake duration) are, so the e2e variant keeps the same meaning at a faster clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from alerts.durations import TimeScale
from metrics.catalog import ScrapeLayout, vllm


@dataclass(frozen=True)
class TtftSlo:
    """Share `objective` of requests get their first token within `threshold_seconds`.

    The threshold must be a bucket boundary of the TTFT histogram, because the good-request count
    is read from the `le` series of that boundary; interpolating would invent data.
    """

    threshold_seconds: float = 1.0
    objective: float = 0.99
    buckets: tuple[float, ...] = vllm.TIME_TO_FIRST_TOKEN_BUCKETS

    def __post_init__(self) -> None:
        if self.threshold_seconds not in self.buckets:
            raise ValueError(
                f"slo.threshold_seconds: {self.threshold_seconds} is not a TTFT bucket boundary; "
                f"choose one of {', '.join(f'{b:g}' for b in self.buckets)}"
            )
        if not 0.5 <= self.objective < 1:
            raise ValueError(f"slo.objective: expected a share in [0.5, 1), got {self.objective}")

    @property
    def error_budget(self) -> float:
        return round(1 - self.objective, 10)


@dataclass(frozen=True)
class BurnWindow:
    """One row of the multi-window multi-burn-rate table (Google SRE workbook, kubernetes-mixin)."""

    severity: str
    for_: str
    long: str
    short: str
    factor: float


DEFAULT_BURN_WINDOWS: tuple[BurnWindow, ...] = (
    BurnWindow("critical", "2m", "1h", "5m", 14.4),
    BurnWindow("critical", "15m", "6h", "30m", 6),
    BurnWindow("warning", "1h", "1d", "2h", 3),
    BurnWindow("warning", "3h", "3d", "6h", 1),
)

# NVIDIA XID codes that mean the GPU (not the application) failed and needs a reset, drain or RMA:
# 48 double-bit ECC, 62 micro-controller halt, 64 row-remapper failure, 74 NVLink, 79 fell off
# the bus, 95 uncontained ECC, 119/120 GSP, 140 unrecovered ECC. Other codes are mostly software.
FATAL_XIDS: tuple[int, ...] = (48, 62, 64, 74, 79, 95, 119, 120, 140)


@dataclass(frozen=True)
class Thresholds:
    itl_p95_seconds: float = 0.2
    queue_waiting_per_engine: float = 10
    kv_cache_usage: float = 0.95
    preemptions_per_second: float = 0.05
    error_share: float = 0.05
    abort_share: float = 0.2
    #: A share needs traffic to mean something: below this many finished requests/s, stay quiet.
    min_requests_per_second: float = 0.05
    gpu_temp_warning_celsius: float = 85
    gpu_temp_critical_celsius: float = 90
    framebuffer_used_share: float = 0.9
    gpu_idle_busy_share: float = 0.05
    fatal_xids: tuple[int, ...] = FATAL_XIDS
    held_decision_share: float = 0.5
    scale_events_per_hour: float = 12
    wake_p90_seconds: float = 180
    cost_regression_factor: float = 1.5


@dataclass(frozen=True)
class AlertsConfig:
    layout: ScrapeLayout = field(default_factory=ScrapeLayout)
    slo: TtftSlo = field(default_factory=TtftSlo)
    burn_windows: tuple[BurnWindow, ...] = DEFAULT_BURN_WINDOWS
    thresholds: Thresholds = field(default_factory=Thresholds)
    #: `{anchor}` is the lower-cased alert name, which is the GitHub anchor of its runbook heading.
    runbook_url_pattern: str = "https://github.com/tokenscale/tokenscale/blob/main/alerts/runbooks.md#{anchor}"
    grafana_url: str = "https://grafana.example.com"
    #: Labels on the PrometheusRule; kube-prometheus-stack selects rules by its Helm release name.
    prometheus_rule_labels: tuple[tuple[str, str], ...] = (("release", "kube-prometheus-stack"),)
    prometheus_rule_name: str = "tokenscale"
    prometheus_rule_namespace: str = "monitoring"
    time: TimeScale = field(default_factory=TimeScale)

    def __post_init__(self) -> None:
        if "{anchor}" not in self.runbook_url_pattern:
            raise ValueError(f"runbook_url_pattern: must contain {{anchor}}, got {self.runbook_url_pattern!r}")
        if self.layout.deployment_label != "deployment":
            # The controller's families name the target `deployment`; alerts join them with vLLM and
            # DCGM series on that label, so the layout must use the same name.
            raise ValueError(
                f"layout.deployment_label: must be 'deployment' to join with controller metrics, "
                f"got {self.layout.deployment_label!r}"
            )
        if self.grafana_url.endswith("/"):
            raise ValueError(f"grafana_url: drop the trailing slash: {self.grafana_url!r}")

    @property
    def deployment(self) -> str:
        return self.layout.deployment_label

    def scaled(self, factor: float) -> AlertsConfig:
        """The same rules on a faster clock (the e2e variant)."""
        return replace(self, time=TimeScale(factor, self.time.floor))
