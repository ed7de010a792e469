"""Serving alerts: what users of a model feel (latency, queueing, errors) and whether it can serve."""

from __future__ import annotations

from alerts.config import AlertsConfig, BurnWindow
from alerts.model import Alert, RuleGroup, Severity
from alerts.promql import agg, by_deployment, by_model, on, paren
from alerts.rules import recording as rec
from alerts.rules.common import autoscaler_dashboard, model, model_dashboard, num, pct, where
from metrics.catalog import MetricFamily, ratio, tokenscale, vllm


def _burn(cfg: AlertsConfig, window: BurnWindow) -> Alert:
    slo = cfg.slo
    threshold = num(round(window.factor * slo.error_budget, 10))
    long, short = cfg.time(window.long), cfg.time(window.short)
    expr = (
        f"{rec.ttft_error_ratio(window.long)} > {threshold}\n"
        f"and {on(by_model(cfg))}\n"
        f"{rec.ttft_error_ratio(window.short)} > {threshold}"
    )
    return Alert(
        name="VLLMTimeToFirstTokenBudgetBurn",
        expr=expr,
        for_=cfg.time(window.for_),
        severity=Severity(window.severity),
        summary="Time-to-first-token SLO error budget is burning too fast.",
        description=(
            f"{{{{ $value | humanizePercentage }}}} of requests to {model(cfg)} waited more than "
            f"{num(slo.threshold_seconds)} s for their first token over the last {long} (and over the last "
            f"{short}). The SLO allows {pct(slo.error_budget)}: the error budget is burning "
            f"{num(window.factor)}x faster than sustainable."
        ),
        dashboard=model_dashboard(cfg),
        labels=(("long", long), ("short", short)),
        capacity_symptom=True,
    )


def _share(cfg: AlertsConfig, reason: str) -> str:
    """Share of finished requests with `reason`, only where traffic is high enough to judge."""
    by = ", ".join(by_model(cfg))
    part = f'sum by ({by}) ({rec.REQUESTS_BY_REASON}{{finished_reason="{reason}"}})'
    return f"{ratio(part, rec.REQUESTS)}\nand {on(by_model(cfg))}\n{rec.REQUESTS} > " + num(
        cfg.thresholds.min_requests_per_second
    )


def group(cfg: AlertsConfig) -> RuleGroup:
    t = cfg.thresholds
    by, dep = by_model(cfg), by_deployment(cfg)
    layout = cfg.layout

    def ctl_max(family: MetricFamily) -> str:
        # One autoscaler per Deployment; max drops the autoscaler and instance labels.
        return agg(family, layout, "max", dep)

    ready, current = ctl_max(tokenscale.READY_REPLICAS), ctl_max(tokenscale.CURRENT_REPLICAS)
    pending = ctl_max(tokenscale.PENDING_PODS)
    model_dash, scaler_dash = model_dashboard(cfg), autoscaler_dashboard(cfg)
    # Ready is compared with the Deployment's spec replicas (Kubernetes' "desired"), which the
    # controller publishes even while it holds. Its own desired count can run ahead of the spec on
    # purpose (scale-up rate limits); blocked or maxed-out scale-ups have their own alerts.
    wanted = current

    alerts = (
        *(_burn(cfg, w) for w in cfg.burn_windows),
        Alert(
            name="VLLMInterTokenLatencyHigh",
            expr=f'max by ({", ".join(by)}) ({rec.ITL_QUANTILE}{{quantile="0.95"}}) > {num(t.itl_p95_seconds)}',
            for_=cfg.time("15m"),
            severity=Severity.WARNING,
            summary="Inter-token latency is high: responses stream slowly.",
            description=(
                f"p95 inter-token latency of {model(cfg)} is {{{{ $value | humanizeDuration }}}} "
                f"(threshold {num(t.itl_p95_seconds)} s): batches are too large or the GPU is slowed down."
            ),
            dashboard=model_dash,
            capacity_symptom=True,
        ),
        Alert(
            name="VLLMRequestQueueBacklog",
            expr=f"{agg(vllm.REQUESTS_WAITING, layout, 'avg', by)} > {num(t.queue_waiting_per_engine)}",
            for_=cfg.time("10m"),
            severity=Severity.WARNING,
            summary="Requests are queueing in the vLLM engines.",
            description=(
                f"{{{{ $value | humanize }}}} requests wait per engine of {model(cfg)} "
                f"(threshold {num(t.queue_waiting_per_engine)}): demand exceeds what the running replicas "
                "can schedule."
            ),
            dashboard=model_dash,
            capacity_symptom=True,
        ),
        Alert(
            name="VLLMKVCacheNearlyFull",
            expr=f"{rec.KV_CACHE_MAX} > {num(t.kv_cache_usage)}",
            for_=cfg.time("10m"),
            severity=Severity.WARNING,
            summary="KV cache is nearly full: preemptions and stalls are imminent.",
            description=(
                f"The fullest engine of {model(cfg)} uses {{{{ $value | humanizePercentage }}}} of its KV cache "
                f"(threshold {pct(t.kv_cache_usage)}). New requests wait and running ones get preempted."
            ),
            dashboard=model_dash,
            capacity_symptom=True,
        ),
        Alert(
            name="VLLMPreemptionsRising",
            expr=f"{rec.PREEMPTIONS} > {num(t.preemptions_per_second)}",
            for_=cfg.time("15m"),
            severity=Severity.WARNING,
            summary="vLLM is preempting requests: the KV cache is too small for the load.",
            description=(
                f"{model(cfg)} preempts {{{{ $value | humanize }}}} requests per second "
                f"(threshold {num(t.preemptions_per_second)}/s); preempted requests are recomputed, "
                "which wastes GPU time and raises latency."
            ),
            dashboard=model_dash,
            capacity_symptom=True,
        ),
        Alert(
            name="VLLMRequestErrorRateHigh",
            expr=f"{paren(_share(cfg, 'error'))} > {num(t.error_share)}",
            for_=cfg.time("5m"),
            severity=Severity.CRITICAL,
            summary="vLLM requests are failing.",
            description=(
                f"{{{{ $value | humanizePercentage }}}} of the requests {model(cfg)} finished ended with an "
                f"error (threshold {pct(t.error_share)})."
            ),
            dashboard=model_dash,
        ),
        Alert(
            name="VLLMRequestAbortRateHigh",
            expr=f"{paren(_share(cfg, 'abort'))} > {num(t.abort_share)}",
            for_=cfg.time("15m"),
            severity=Severity.WARNING,
            summary="Many vLLM requests are aborted before they finish.",
            description=(
                f"{{{{ $value | humanizePercentage }}}} of the requests {model(cfg)} finished were aborted "
                f"(threshold {pct(t.abort_share)}): clients gave up or disconnected, often because responses "
                "were too slow."
            ),
            dashboard=model_dash,
        ),
        Alert(
            name="VLLMStartupSlow",
            expr=f"{current} - {ready} - {pending} > 0",
            for_=cfg.time("2m"),
            severity=Severity.WARNING,
            summary="vLLM pods take longer than 2 minutes to become ready.",
            description=(
                f"{{{{ $value | humanize }}}} pods of {where(cfg)} have been running but not ready for more than "
                f"{cfg.time('2m')}: the model is still loading, or start-up is stuck."
            ),
            dashboard=scaler_dash,
            capacity_symptom=True,
        ),
        Alert(
            name="VLLMReplicasBelowDesired",
            expr=f"{wanted} - {ready} > 0",
            for_=cfg.time("15m"),
            severity=Severity.WARNING,
            summary="Fewer vLLM replicas are ready than the Deployment wants.",
            description=(
                f"{where(cfg)} has {{{{ $value | humanize }}}} fewer ready replicas than desired for more than "
                f"{cfg.time('15m')}."
            ),
            dashboard=scaler_dash,
            capacity_symptom=True,
        ),
        Alert(
            name="VLLMReplicasBelowDesired",
            expr=f"{wanted} > 0\nand {on(dep)}\n{ready} == 0",
            for_=cfg.time("10m"),
            severity=Severity.CRITICAL,
            summary="No vLLM replica is ready although the Deployment wants some.",
            description=(
                f"None of the {{{{ $value | humanize }}}} desired replicas of {where(cfg)} has been ready for "
                f"{cfg.time('10m')}: the model serves nothing (the activator holds or rejects its requests)."
            ),
            dashboard=scaler_dash,
            capacity_symptom=True,
        ),
        Alert(
            name="VLLMMetricsMissing",
            expr=(f"{ready} > 0\nunless {on(dep)}\n{agg(vllm.REQUESTS_RUNNING, layout, 'count', dep)}"),
            for_=cfg.time("10m"),
            severity=Severity.CRITICAL,
            summary="A serving Deployment exports no vLLM metrics.",
            description=(
                f"{where(cfg)} has {{{{ $value | humanize }}}} ready replicas but Prometheus holds no vLLM series "
                "for it: autoscaling holds, dashboards are empty and latency alerts cannot fire."
            ),
            dashboard=scaler_dash,
        ),
    )
    return RuleGroup("tokenscale-serving.alerts", "serving", alerts)
