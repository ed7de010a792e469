"""Metric families that tokenscale itself exposes: the controller, the activator, cost and drift.

Labels `namespace` and `deployment` name the *target* Deployment, not the pod that exports the
series, so the shipped ServiceMonitors scrape these with honorLabels: true.
"""

from __future__ import annotations

from metrics.catalog.families import MetricFamily, MetricType, Source

G, C, H = MetricType.GAUGE, MetricType.COUNTER, MetricType.HISTOGRAM
TARGET = ("namespace", "deployment", "autoscaler")


def _ctl(name: str, type_: MetricType, unit: str, help_text: str, labels: tuple[str, ...] = TARGET) -> MetricFamily:
    return MetricFamily(name=name, type=type_, unit=unit, help=help_text, source=Source.CONTROLLER, labels=labels)


def _act(name: str, type_: MetricType, unit: str, help_text: str, labels: tuple[str, ...] = ()) -> MetricFamily:
    return MetricFamily(
        name=name,
        type=type_,
        unit=unit,
        help=help_text,
        source=Source.ACTIVATOR,
        labels=("namespace", "deployment", *labels),
    )


# --- controller: what it saw and decided -------------------------------------------------------
DESIRED_REPLICAS = _ctl(
    "tokenscale_desired_replicas",
    G,
    "replicas",
    "Replicas the last decision asked for; absent while the decider holds (missing, stale or unknown data).",
)
CURRENT_REPLICAS = _ctl("tokenscale_current_replicas", G, "replicas", "Replicas the target's /scale reported (spec).")
READY_REPLICAS = _ctl("tokenscale_ready_replicas", G, "replicas", "Ready replicas of the target.")
MIN_REPLICAS = _ctl("tokenscale_min_replicas", G, "replicas", "The autoscaler's minReplicas.")
MAX_REPLICAS = _ctl("tokenscale_max_replicas", G, "replicas", "The autoscaler's maxReplicas.")
PENDING_PODS = _ctl("tokenscale_pending_pods", G, "pods", "Target pods not yet running.")
UNSCHEDULABLE_PODS = _ctl(
    "tokenscale_unschedulable_pods", G, "pods", "Target pods the scheduler cannot place (PodScheduled=False)."
)
DECISIONS = _ctl(
    "tokenscale_decisions_total",
    C,
    "decisions",
    "Decisions taken, by reason (e.g. ScaleUp, Hold, StaleMetrics, ScaleToZero).",
    (*TARGET, "reason"),
)
#: `reason` values of DECISIONS that mean "held the count because the data was missing, stale or
#: unreachable" rather than a decision on full data (the controller's data holds). Dashboards and
#: alerts select them by this list; a test keeps it equal to scaler.reasons.DATA_HOLDS.
DATA_HOLD_REASONS: tuple[str, ...] = (
    "HoldMissingMetrics",
    "HoldNoDemandSignal",
    "HoldPrometheusDown",
    "HoldStaleMetrics",
)
SCALE_EVENTS = _ctl(
    "tokenscale_scale_events_total",
    C,
    "events",
    "Replica changes written to /scale, by direction (up, down).",
    (*TARGET, "direction"),
)
OBSERVED_SIGNAL = _ctl(
    "tokenscale_observed_signal",
    G,
    "varies",
    "Demand the decider saw per signal (absent when the signal was missing).",
    (*TARGET, "signal"),
)
SIGNAL_TARGET = _ctl(
    "tokenscale_signal_target_per_replica",
    G,
    "varies",
    "The autoscaler's target per replica for each signal.",
    (*TARGET, "signal"),
)
SCALED_TO_ZERO = _ctl("tokenscale_scaled_to_zero", G, "bool", "1 while the target is at zero replicas.")
WAKE_DURATION = _ctl(
    "tokenscale_wake_duration_seconds",
    H,
    "seconds",
    "From the first demand seen at zero to the first ready replica.",
)
CONDITION = _ctl(
    "tokenscale_autoscaler_condition",
    G,
    "bool",
    "1 for each status condition of the autoscaler that is True.",
    (*TARGET, "condition", "reason"),
)
TICK_DURATION = _ctl("tokenscale_tick_duration_seconds", H, "seconds", "Wall time of one control-loop tick.", ())
TICKS = _ctl(
    "tokenscale_ticks_total",
    C,
    "ticks",
    "Control-loop ticks by outcome (ok, degraded, failed).",
    ("outcome",),
)
LAST_SUCCESSFUL_TICK = _ctl(
    "tokenscale_last_successful_tick_timestamp_seconds",
    G,
    "seconds",
    "Unix time of the last tick that completed with fresh metrics; absent until the first such tick.",
    (),
)
QUERY_DURATION = _ctl(
    "tokenscale_prometheus_query_duration_seconds",
    H,
    "seconds",
    "Latency of each Prometheus query.",
    ("query",),
)
QUERY_ERRORS = _ctl(
    "tokenscale_prometheus_query_errors_total",
    C,
    "errors",
    "Failed Prometheus queries by kind (unreachable, timeout, bad_response).",
    ("query", "error"),
)
PROMETHEUS_UP = _ctl(
    "tokenscale_prometheus_up", G, "bool", "1 when the last tick's Prometheus queries all succeeded.", ()
)
KUBE_ERRORS = _ctl(
    "tokenscale_kubernetes_errors_total",
    C,
    "errors",
    "Kubernetes API calls that failed, by operation.",
    ("operation",),
)
LEADER = _ctl("tokenscale_leader", G, "bool", "1 on the replica that holds the leader lease.", ())

# --- cost ------------------------------------------------------------------------------------------
GPUS_ALLOCATED = _ctl(
    "tokenscale_gpus_allocated",
    G,
    "gpus",
    "GPUs held by the target's scheduled pods (starting and idle pods included).",
    (*TARGET, "gpu_model"),
)
GPU_PRICE = _ctl(
    "tokenscale_gpu_price_dollars_per_hour",
    G,
    "dollars/hour",
    "Price used for one GPU of the target, per hour.",
    (*TARGET, "gpu_model"),
)
GPUS_PER_REPLICA = _ctl(
    "tokenscale_gpus_per_replica",
    G,
    "gpus",
    "GPUs one replica of the target requests (pod spec nvidia.com/gpu, else DCGM); exported at zero too.",
    (*TARGET, "gpu_model"),
)
COST_PER_MILLION_TOKENS = _ctl(
    "tokenscale_cost_per_million_tokens_dollars",
    G,
    "dollars",
    "Dollars per million tokens over the cost window, by token_type (input, output).",
    (*TARGET, "token_type"),
)
COST = _ctl("tokenscale_cost_dollars_total", C, "dollars", "GPU dollars accrued by the target.")

# --- drift -----------------------------------------------------------------------------------------
DRIFT_SCORE = _ctl(
    "tokenscale_drift_score",
    G,
    "score",
    "Drift score per request feature in the last report (method-dependent, see the report).",
    ("namespace", "deployment", "model_name", "feature"),
)
DRIFT_DETECTED = _ctl(
    "tokenscale_drift_detected",
    G,
    "bool",
    "1 when the last drift report found drift, 0 when not; absent when there was not enough data.",
    ("namespace", "deployment", "model_name"),
)
DRIFT_LAST_RUN = _ctl(
    "tokenscale_drift_last_run_timestamp_seconds",
    G,
    "seconds",
    "Unix time of the last drift report, by status (ok, not_enough_data, failed).",
    ("namespace", "deployment", "model_name", "status"),
)

# --- activator -------------------------------------------------------------------------------------
ACTIVATOR_PENDING = _act(
    "tokenscale_activator_requests_pending",
    G,
    "requests",
    "Requests held by the activator while the target has no ready endpoint (exists at zero replicas).",
)
ACTIVATOR_IN_FLIGHT = _act(
    "tokenscale_activator_requests_in_flight", G, "requests", "Requests the activator is proxying right now."
)
ACTIVATOR_REQUESTS = _act(
    "tokenscale_activator_requests_total",
    C,
    "requests",
    "Requests received by the activator, by HTTP code.",
    ("code",),
)
ACTIVATOR_REJECTED = _act(
    "tokenscale_activator_rejected_total",
    C,
    "requests",
    "Requests the activator refused, by reason (queue_full, timeout, draining).",
    ("reason",),
)
ACTIVATOR_HOLD = _act(
    "tokenscale_activator_hold_seconds",
    H,
    "seconds",
    "Time requests were held before a ready endpoint appeared.",
)
ACTIVATOR_WAKE_SIGNALS = _act(
    "tokenscale_activator_wake_signals_total", C, "signals", "Wake-up signals sent to the controller."
)

CONTROLLER_FAMILIES: tuple[MetricFamily, ...] = (
    DESIRED_REPLICAS,
    CURRENT_REPLICAS,
    READY_REPLICAS,
    MIN_REPLICAS,
    MAX_REPLICAS,
    PENDING_PODS,
    UNSCHEDULABLE_PODS,
    DECISIONS,
    SCALE_EVENTS,
    OBSERVED_SIGNAL,
    SIGNAL_TARGET,
    SCALED_TO_ZERO,
    WAKE_DURATION,
    CONDITION,
    TICK_DURATION,
    TICKS,
    LAST_SUCCESSFUL_TICK,
    QUERY_DURATION,
    QUERY_ERRORS,
    PROMETHEUS_UP,
    KUBE_ERRORS,
    LEADER,
    GPUS_ALLOCATED,
    GPU_PRICE,
    GPUS_PER_REPLICA,
    COST_PER_MILLION_TOKENS,
    COST,
    DRIFT_SCORE,
    DRIFT_DETECTED,
    DRIFT_LAST_RUN,
)
ACTIVATOR_FAMILIES: tuple[MetricFamily, ...] = (
    ACTIVATOR_PENDING,
    ACTIVATOR_IN_FLIGHT,
    ACTIVATOR_REQUESTS,
    ACTIVATOR_REJECTED,
    ACTIVATOR_HOLD,
    ACTIVATOR_WAKE_SIGNALS,
)
ALL: tuple[MetricFamily, ...] = CONTROLLER_FAMILIES + ACTIVATOR_FAMILIES
