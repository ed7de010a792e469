"""InferenceAutoscaler spec: typed values, defaults, and validation that names field and value.

The CRD's OpenAPI schema rejects what it can at admission; `parse_spec` re-checks everything
(a CRD can be edited, and the schema cannot express every rule) and collects every error, each
naming the field path and the offending value, for the status condition.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from scaler.forecast import ForecastMethod, Prediction

GROUP = "tokenscale.dev"
VERSION = "v1alpha1"
KIND = "InferenceAutoscaler"
PLURAL = "inferenceautoscalers"

_E = TypeVar("_E", bound=StrEnum)


class SignalType(StrEnum):
    """What a replica is sized by. Each is a total demand divided by a target per replica."""

    WAITING_REQUESTS = "WaitingRequests"  # queued requests
    RUNNING_REQUESTS = "RunningRequests"  # requests in flight: running + queued (+ held by the activator)
    KV_CACHE_USAGE = "KVCacheUsage"  # sum over pods of KV-cache usage (0-1)
    TOKENS_PER_SECOND = "TokensPerSecond"  # output tokens per second
    # Prompt tokens per second: prefill work, which bounds a replica's capacity when prompts are
    # long (code, RAG, long-context traffic) and moves with load before queues form.
    PROMPT_TOKENS_PER_SECOND = "PromptTokensPerSecond"


class PolicyType(StrEnum):
    PODS = "Pods"
    PERCENT = "Percent"


class SelectPolicy(StrEnum):
    MAX = "Max"
    MIN = "Min"
    DISABLED = "Disabled"


@dataclass(frozen=True)
class TargetRef:
    api_version: str
    kind: str
    name: str


@dataclass(frozen=True)
class SignalTarget:
    type: SignalType
    target_per_replica: float


@dataclass(frozen=True)
class LatencySLO:
    """A latency objective at a percentile; the decider scales up while it is breached."""

    percentile: float
    threshold_seconds: float

    @property
    def quantile(self) -> float:
        return self.percentile / 100.0


@dataclass(frozen=True)
class RatePolicy:
    type: PolicyType
    value: int
    period_seconds: int


@dataclass(frozen=True)
class ScalingRules:
    stabilization_window_seconds: int
    policies: tuple[RatePolicy, ...]
    select_policy: SelectPolicy


@dataclass(frozen=True)
class Behavior:
    tolerance: float = 0.1
    stable_window_seconds: float = 60.0
    panic_window_seconds: float = 6.0
    panic_threshold: float = 2.0
    max_signal_age_seconds: float = 60.0
    scale_up: ScalingRules = field(
        default_factory=lambda: ScalingRules(
            0, (RatePolicy(PolicyType.PODS, 4, 15), RatePolicy(PolicyType.PERCENT, 100, 15)), SelectPolicy.MAX
        )
    )
    scale_down: ScalingRules = field(
        default_factory=lambda: ScalingRules(300, (RatePolicy(PolicyType.PERCENT, 100, 15),), SelectPolicy.MAX)
    )
    idle_grace_period_seconds: float = 300.0
    activation_requests: float = 1.0
    prediction: Prediction | None = None


@dataclass(frozen=True)
class CostSpec:
    gpu_model: str | None = None
    gpus_per_replica: int | None = None
    price_per_gpu_hour: float | None = None
    spot: bool = False


DEFAULT_SIGNALS: tuple[SignalTarget, ...] = (
    SignalTarget(SignalType.RUNNING_REQUESTS, 32.0),
    SignalTarget(SignalType.KV_CACHE_USAGE, 0.75),
)


@dataclass(frozen=True)
class AutoscalerSpec:
    target: TargetRef
    min_replicas: int = 1
    max_replicas: int = 1
    signals: tuple[SignalTarget, ...] = DEFAULT_SIGNALS
    gpu_utilization_guard: float | None = None
    ttft_slo: LatencySLO | None = None
    itl_slo: LatencySLO | None = None
    behavior: Behavior = field(default_factory=Behavior)
    cost: CostSpec = field(default_factory=CostSpec)

    @property
    def floor_when_serving(self) -> int:
        """Fewest replicas while serving: min, but at least one (zero is reached only via the idle gate)."""
        return max(self.min_replicas, 1)

    def bounded(self, replicas: int) -> int:
        """`replicas` within [floor_when_serving, maxReplicas]: the bounds are the user's explicit
        word and override stabilization and rate limits wherever a count is decided."""
        return min(max(replicas, self.floor_when_serving), self.max_replicas)

    def target_for(self, signal: SignalType) -> float | None:
        for s in self.signals:
            if s.type is signal:
                return s.target_per_replica
        return None


@dataclass(frozen=True)
class FieldError:
    path: str
    value: Any
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}, got {self.value!r}"


class SpecError(ValueError):
    """Every problem found in one spec; str() lists them all, each with field path and value."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


# The fields of each object, as in the CRD's schema (tests/unit/test_spec_fields.py keeps them equal).
SPEC_FIELDS = frozenset(
    {"scaleTargetRef", "minReplicas", "maxReplicas", "signals", "gpuUtilizationGuard", "slo", "behavior", "cost"}
)
TARGET_REF_FIELDS = frozenset({"apiVersion", "kind", "name"})
SIGNAL_FIELDS = frozenset({"type", "targetPerReplica"})
SLOS_FIELDS = frozenset({"timeToFirstToken", "interTokenLatency"})
SLO_FIELDS = frozenset({"percentile", "thresholdSeconds"})
BEHAVIOR_FIELDS = frozenset(
    {"tolerance", "stableWindowSeconds", "panicWindowSeconds", "panicThreshold", "maxSignalAgeSeconds",
     "scaleUp", "scaleDown", "scaleToZero", "prediction"}
)  # fmt: skip
RULES_FIELDS = frozenset({"stabilizationWindowSeconds", "selectPolicy", "policies"})
POLICY_FIELDS = frozenset({"type", "value", "periodSeconds"})
SCALE_TO_ZERO_FIELDS = frozenset({"idleGracePeriodSeconds", "activationRequests"})
PREDICTION_FIELDS = frozenset(
    {"method", "horizonSeconds", "fromColdStart", "levelSmoothingSeconds", "trendSmoothingSeconds", "maxGrowth"}
)
COST_FIELDS = frozenset({"gpuModel", "gpusPerReplica", "pricePerGpuHour", "spot"})


class _Reader:
    """Reads typed fields from a raw dict, recording errors instead of raising at the first."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, path: str, value: Any, problem: str) -> None:
        self.errors.append(FieldError(path, value, problem))

    def mapping(self, raw: Any, path: str, allowed: frozenset[str] | None = None) -> Mapping[str, Any]:
        """An object, reporting keys outside `allowed`: a misplaced field must not be ignored."""
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            self.fail(path, raw, "must be an object")
            return {}
        if allowed is not None:
            for key in sorted(set(raw) - allowed, key=str):
                self.fail(f"{path}.{key}", raw[key], f"is not a field here (known: {', '.join(sorted(allowed))})")
        return raw

    def number(
        self,
        raw: Mapping[str, Any],
        key: str,
        path: str,
        default: float | None,
        *,
        minimum: float | None = None,
        exclusive_minimum: float | None = None,
        maximum: float | None = None,
    ) -> float | None:
        full = f"{path}.{key}"
        if key not in raw or raw[key] is None:
            return default
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            # Quantity strings like "500m" are not accepted: the CRD declares plain numbers.
            self.fail(full, value, "must be a number")
            return default
        number = float(value)
        if not math.isfinite(number):
            self.fail(full, value, "must be a finite number")
            return default
        if minimum is not None and number < minimum:
            self.fail(full, value, f"must be at least {minimum:g}")
        if exclusive_minimum is not None and number <= exclusive_minimum:
            self.fail(full, value, f"must be greater than {exclusive_minimum:g}")
        if maximum is not None and number > maximum:
            self.fail(full, value, f"must be at most {maximum:g}")
        return number

    def integer(
        self, raw: Mapping[str, Any], key: str, path: str, default: int, *, minimum: int = 0, maximum: int | None = None
    ) -> int:
        full = f"{path}.{key}"
        if key not in raw or raw[key] is None:
            return default
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(full, value, "must be an integer")
            return default
        if value < minimum:
            self.fail(full, value, f"must be at least {minimum}")
        if maximum is not None and value > maximum:
            self.fail(full, value, f"must be at most {maximum}")
        return value

    def string(self, raw: Mapping[str, Any], key: str, path: str, default: str | None) -> str | None:
        full = f"{path}.{key}"
        if key not in raw or raw[key] is None:
            return default
        value = raw[key]
        if not isinstance(value, str) or not value:
            self.fail(full, value, "must be a non-empty string")
            return default
        return value

    def enum(self, raw: Mapping[str, Any], key: str, path: str, enum: type[_E], default: _E | None) -> _E | None:
        full = f"{path}.{key}"
        if key not in raw or raw[key] is None:
            if default is None:
                self.fail(full, None, f"is required, one of {', '.join(e.value for e in enum)}")
            return default
        value = raw[key]
        try:
            return enum(value)
        except ValueError:
            self.fail(full, value, f"must be one of {', '.join(e.value for e in enum)}")
            return default


def _parse_signals(r: _Reader, raw: Any, path: str) -> tuple[SignalTarget, ...]:
    if raw is None:
        return DEFAULT_SIGNALS
    if not isinstance(raw, list) or not raw:
        r.fail(path, raw, "must be a non-empty list")
        return DEFAULT_SIGNALS
    signals: list[SignalTarget] = []
    seen: set[SignalType] = set()
    for i, item in enumerate(raw):
        item_path = f"{path}[{i}]"
        entry = r.mapping(item, item_path, SIGNAL_FIELDS)
        kind = r.enum(entry, "type", item_path, SignalType, None)
        upper = 1.0 if kind is SignalType.KV_CACHE_USAGE else None
        target = r.number(entry, "targetPerReplica", item_path, None, exclusive_minimum=0.0, maximum=upper)
        if target is None and "targetPerReplica" not in entry:
            r.fail(f"{item_path}.targetPerReplica", None, "is required")
        if kind is None or target is None:
            continue
        if kind in seen:
            r.fail(f"{item_path}.type", kind.value, "is listed twice")
            continue
        seen.add(kind)
        signals.append(SignalTarget(kind, target))
    return tuple(signals) or DEFAULT_SIGNALS


def _parse_slo(r: _Reader, raw: Any, path: str) -> LatencySLO | None:
    if raw is None:
        return None
    entry = r.mapping(raw, path, SLO_FIELDS)
    percentile = r.number(entry, "percentile", path, 95.0, exclusive_minimum=0.0, maximum=99.99)
    threshold = r.number(entry, "thresholdSeconds", path, None, exclusive_minimum=0.0)
    if "thresholdSeconds" not in entry:
        r.fail(f"{path}.thresholdSeconds", None, "is required")
    if percentile is None or threshold is None:
        return None
    return LatencySLO(percentile, threshold)


def _parse_rules(r: _Reader, raw: Any, path: str, default: ScalingRules) -> ScalingRules:
    if raw is None:
        return default
    entry = r.mapping(raw, path, RULES_FIELDS)
    window = r.integer(entry, "stabilizationWindowSeconds", path, default.stabilization_window_seconds, maximum=3600)
    select = r.enum(entry, "selectPolicy", path, SelectPolicy, default.select_policy) or default.select_policy
    policies = default.policies
    if "policies" in entry:
        raw_policies = entry["policies"]
        if not isinstance(raw_policies, list) or not raw_policies:
            r.fail(f"{path}.policies", raw_policies, "must be a non-empty list")
        else:
            parsed: list[RatePolicy] = []
            for i, item in enumerate(raw_policies):
                p_path = f"{path}.policies[{i}]"
                p = r.mapping(item, p_path, POLICY_FIELDS)
                kind = r.enum(p, "type", p_path, PolicyType, None)
                value = r.integer(p, "value", p_path, 0, minimum=1)
                period = r.integer(p, "periodSeconds", p_path, 0, minimum=1, maximum=1800)
                if "value" not in p:
                    r.fail(f"{p_path}.value", None, "is required")
                if "periodSeconds" not in p:
                    r.fail(f"{p_path}.periodSeconds", None, "is required")
                if kind is not None and value >= 1 and period >= 1:
                    parsed.append(RatePolicy(kind, value, period))
            policies = tuple(parsed) or default.policies
    return ScalingRules(window, policies, select)


def _parse_behavior(r: _Reader, raw: Any, path: str, min_replicas: int) -> Behavior:
    d = Behavior()
    entry = r.mapping(raw, path, BEHAVIOR_FIELDS)
    tolerance = r.number(entry, "tolerance", path, d.tolerance, minimum=0.0, maximum=1.0)
    stable = r.number(entry, "stableWindowSeconds", path, d.stable_window_seconds, minimum=1.0, maximum=3600.0)
    panic = r.number(entry, "panicWindowSeconds", path, d.panic_window_seconds, minimum=1.0, maximum=3600.0)
    threshold = r.number(entry, "panicThreshold", path, d.panic_threshold, exclusive_minimum=1.0)
    max_age = r.number(entry, "maxSignalAgeSeconds", path, d.max_signal_age_seconds, minimum=1.0)
    assert stable is not None and panic is not None  # defaults are given
    if panic > stable:
        r.fail(
            f"{path}.panicWindowSeconds", entry.get("panicWindowSeconds", panic), "must not exceed stableWindowSeconds"
        )
    zero = r.mapping(entry.get("scaleToZero"), f"{path}.scaleToZero", SCALE_TO_ZERO_FIELDS)
    grace = r.number(zero, "idleGracePeriodSeconds", f"{path}.scaleToZero", d.idle_grace_period_seconds, minimum=0.0)
    activation = r.number(
        zero, "activationRequests", f"{path}.scaleToZero", d.activation_requests, exclusive_minimum=0.0
    )
    if zero and min_replicas > 0:
        r.fail(f"{path}.scaleToZero", dict(zero), "has no effect unless spec.minReplicas is 0")
    prediction = _parse_prediction(r, entry.get("prediction"), f"{path}.prediction")
    return Behavior(
        tolerance=tolerance if tolerance is not None else d.tolerance,
        stable_window_seconds=stable,
        panic_window_seconds=panic,
        panic_threshold=threshold if threshold is not None else d.panic_threshold,
        max_signal_age_seconds=max_age if max_age is not None else d.max_signal_age_seconds,
        scale_up=_parse_rules(r, entry.get("scaleUp"), f"{path}.scaleUp", d.scale_up),
        scale_down=_parse_rules(r, entry.get("scaleDown"), f"{path}.scaleDown", d.scale_down),
        idle_grace_period_seconds=grace if grace is not None else d.idle_grace_period_seconds,
        activation_requests=activation if activation is not None else d.activation_requests,
        prediction=prediction,
    )


def _parse_prediction(r: _Reader, raw: Any, path: str) -> Prediction | None:
    if raw is None:
        return None
    entry = r.mapping(raw, path, PREDICTION_FIELDS)
    d = Prediction()
    from_cold_start = entry.get("fromColdStart", False)
    if not isinstance(from_cold_start, bool):
        r.fail(f"{path}.fromColdStart", from_cold_start, "must be true or false")
        from_cold_start = False
    horizon = r.number(entry, "horizonSeconds", path, d.horizon_seconds, exclusive_minimum=0.0, maximum=3600.0)
    level = r.number(entry, "levelSmoothingSeconds", path, d.level_smoothing_seconds, exclusive_minimum=0.0)
    trend = r.number(entry, "trendSmoothingSeconds", path, d.trend_smoothing_seconds, exclusive_minimum=0.0)
    growth = r.number(entry, "maxGrowth", path, d.max_growth, minimum=1.0, maximum=100.0)
    return Prediction(
        method=r.enum(entry, "method", path, ForecastMethod, d.method) or d.method,
        horizon_seconds=horizon if horizon is not None else d.horizon_seconds,
        from_cold_start=from_cold_start,
        level_smoothing_seconds=level if level is not None else d.level_smoothing_seconds,
        trend_smoothing_seconds=trend if trend is not None else d.trend_smoothing_seconds,
        max_growth=growth if growth is not None else d.max_growth,
    )


def _parse_cost(r: _Reader, raw: Any, path: str) -> CostSpec:
    entry = r.mapping(raw, path, COST_FIELDS)
    gpus = r.integer(entry, "gpusPerReplica", path, 0, minimum=1, maximum=64) if "gpusPerReplica" in entry else None
    spot = entry.get("spot", False)
    if not isinstance(spot, bool):
        r.fail(f"{path}.spot", spot, "must be true or false")
        spot = False
    return CostSpec(
        gpu_model=r.string(entry, "gpuModel", path, None),
        gpus_per_replica=gpus,
        price_per_gpu_hour=r.number(entry, "pricePerGpuHour", path, None, minimum=0.0),
        spot=spot,
    )


def parse_spec(raw_spec: Any) -> AutoscalerSpec:
    """Validate a raw `spec` (as stored in the API) into an AutoscalerSpec, or raise SpecError."""
    r = _Reader()
    spec = r.mapping(raw_spec, "spec", SPEC_FIELDS)
    ref_raw = r.mapping(spec.get("scaleTargetRef"), "spec.scaleTargetRef", TARGET_REF_FIELDS)
    if "scaleTargetRef" not in spec:
        r.fail("spec.scaleTargetRef", None, "is required")
    name = r.string(ref_raw, "name", "spec.scaleTargetRef", None)
    if name is None and "scaleTargetRef" in spec and "name" not in ref_raw:
        r.fail("spec.scaleTargetRef.name", None, "is required")
    target = TargetRef(
        api_version=r.string(ref_raw, "apiVersion", "spec.scaleTargetRef", "apps/v1") or "apps/v1",
        kind=r.string(ref_raw, "kind", "spec.scaleTargetRef", "Deployment") or "Deployment",
        name=name or "",
    )
    min_replicas = r.integer(spec, "minReplicas", "spec", 1, minimum=0, maximum=10_000)
    max_replicas = r.integer(spec, "maxReplicas", "spec", max(min_replicas, 1), minimum=1, maximum=10_000)
    if "maxReplicas" not in spec:
        r.fail("spec.maxReplicas", None, "is required")
    if max_replicas < min_replicas:
        r.fail("spec.maxReplicas", max_replicas, f"must be at least spec.minReplicas ({min_replicas})")
    signals = _parse_signals(r, spec.get("signals"), "spec.signals")
    guard = r.number(spec, "gpuUtilizationGuard", "spec", None, exclusive_minimum=0.0, maximum=1.0)
    slo = r.mapping(spec.get("slo"), "spec.slo", SLOS_FIELDS)
    parsed = AutoscalerSpec(
        target=target,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        signals=signals,
        gpu_utilization_guard=guard,
        ttft_slo=_parse_slo(r, slo.get("timeToFirstToken"), "spec.slo.timeToFirstToken"),
        itl_slo=_parse_slo(r, slo.get("interTokenLatency"), "spec.slo.interTokenLatency"),
        behavior=_parse_behavior(r, spec.get("behavior"), "spec.behavior", min_replicas),
        cost=_parse_cost(r, spec.get("cost"), "spec.cost"),
    )
    if r.errors:
        raise SpecError(r.errors)
    return parsed
