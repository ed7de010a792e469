"""Autoscaler alerts, from the controller's own tokenscale_* metrics.

Decision reasons are the controller's CamelCase reason strings (ScaleUp, HoldStaleMetrics, ...).
"""

from __future__ import annotations

from alerts.config import AlertsConfig
from alerts.model import Alert, Dashboard, DashboardLink, RuleGroup, Severity
from alerts.promql import agg, by_deployment, on
from alerts.rules import recording as rec
from alerts.rules.common import autoscaler_dashboard, num, where
from metrics.catalog import increase, over_time, ratio, tokenscale

HELD_ON_DATA = ("HoldStaleMetrics", "HoldMissingMetrics")
#: One controller Deployment (leader and standbys): its scrape job and namespace, per cluster where a
#: central Prometheus holds several. A healthy controller must not hide a broken one.
PER_CONTROLLER = ("cluster", "job", "namespace")
BLOCKED_UNSCHEDULABLE = "ScaleUpBlockedUnschedulable"


def _reasons(reasons: tuple[str, ...]) -> str:
    return f'reason=~"{"|".join(reasons)}"'


def group(cfg: AlertsConfig) -> RuleGroup:
    t = cfg.thresholds
    layout = cfg.layout
    dep = by_deployment(cfg)
    dash = autoscaler_dashboard(cfg)
    fleet = DashboardLink(Dashboard.AUTOSCALER)
    # The tick-duration histogram exists from the moment the controller process starts, unlike
    # the last-successful-tick gauge, which appears only after a first good tick.
    controller_alive = agg(tokenscale.TICK_DURATION, layout, "max", suffix="_count")
    tick_window = cfg.time("3m")
    ok_ticks = agg(tokenscale.TICKS, layout, "sum", PER_CONTROLLER, increase(tick_window), matchers='outcome="ok"')
    any_ticks = agg(tokenscale.TICK_DURATION, layout, "sum", PER_CONTROLLER, increase(tick_window), suffix="_count")
    w10m = increase(cfg.time("10m"))
    held = agg(tokenscale.DECISIONS, layout, "sum", dep, w10m, matchers=_reasons(HELD_ON_DATA))
    decisions = agg(tokenscale.DECISIONS, layout, "sum", dep, w10m)
    blocked = agg(
        tokenscale.DECISIONS,
        layout,
        "sum",
        dep,
        increase(cfg.time("5m")),
        matchers=f'reason="{BLOCKED_UNSCHEDULABLE}"',
    )
    desired = agg(tokenscale.DESIRED_REPLICAS, layout, "max", dep)
    maximum = agg(tokenscale.MAX_REPLICAS, layout, "max", dep)
    waiting_trend = f"sum by ({', '.join(dep)}) (deriv({rec.WAITING}[{cfg.time('10m')}]))"
    waiting = f"sum by ({', '.join(dep)}) ({rec.WAITING})"
    events = agg(tokenscale.SCALE_EVENTS, layout, "sum", dep, increase(cfg.time("1h")))
    # Wakes are rare: quantile over the increase of the last hour, not over a short rate window.
    wake_buckets = agg(
        tokenscale.WAKE_DURATION, layout, "sum", ("le", *dep), increase(cfg.time("1h")), suffix="_bucket"
    )
    cost_by = (*dep, "token_type")
    cost_now = agg(tokenscale.COST_PER_MILLION_TOKENS, layout, "avg", cost_by, over_time("avg", cfg.time("1h")))
    cost_then = agg(
        tokenscale.COST_PER_MILLION_TOKENS,
        layout,
        "avg",
        cost_by,
        over_time("avg", cfg.time("1h"), offset=cfg.time("1d")),
    )
    wake_limit = num(round(cfg.time.seconds(t.wake_p90_seconds), 3))

    alerts = (
        Alert(
            name="TokenscaleControllerDown",
            expr=f"absent({controller_alive})",
            for_=cfg.time("5m"),
            severity=Severity.CRITICAL,
            summary="The tokenscale controller is down: nothing scales, nothing wakes from zero.",
            description=(
                f"Prometheus has had no tokenscale controller metrics for {cfg.time('5m')}: the controller is not "
                "running, crash-looping, or no longer scraped. Replica counts stay frozen."
            ),
            dashboard=fleet,
        ),
        Alert(
            name="TokenscaleControllerNotTicking",
            # No OK tick in the window; `0 * any_ticks` stands in when the ok series never existed.
            expr=f"({ok_ticks} or 0 * {any_ticks}) < 1",
            for_=cfg.time("2m"),
            severity=Severity.CRITICAL,
            summary="The tokenscale controller completes no successful tick.",
            description=(
                f"The controller completed {{{{ $value | humanize }}}} successful control-loop ticks in the last "
                f"{tick_window}: it runs, but its loop is stuck or every tick fails."
            ),
            dashboard=fleet,
        ),
        Alert(
            name="TokenscalePrometheusUnreachable",
            expr=f"{agg(tokenscale.PROMETHEUS_UP, layout, 'max', PER_CONTROLLER)} < 1",
            for_=cfg.time("5m"),
            severity=Severity.CRITICAL,
            summary="The tokenscale controller cannot query Prometheus.",
            description=(
                f"The controller's Prometheus queries have failed for {cfg.time('5m')}; every autoscaler holds its "
                "current replica count and cannot react to load."
            ),
            dashboard=fleet,
        ),
        Alert(
            name="TokenscaleDecisionsHeldStaleMetrics",
            expr=f"{ratio(held, decisions)} > {num(t.held_decision_share)}",
            for_=cfg.time("10m"),
            severity=Severity.WARNING,
            summary="The autoscaler holds replica counts because its metrics are stale or missing.",
            description=(
                f"{{{{ $value | humanizePercentage }}}} of the decisions for {where(cfg)} over the last "
                f"{cfg.time('10m')} were holds on stale or missing metrics: it cannot scale this Deployment."
            ),
            dashboard=dash,
        ),
        Alert(
            name="TokenscaleMaxedOutQueueGrowing",
            expr=(f"{desired} >= {maximum}\nand {on(dep)} {waiting_trend} > 0\nand {on(dep)} {waiting} > 0"),
            for_=cfg.time("10m"),
            severity=Severity.WARNING,
            summary="The autoscaler is at maxReplicas while the queue keeps growing.",
            description=(
                f"{where(cfg)} runs at its maximum of {{{{ $value | humanize }}}} replicas and its request queue is "
                "still growing; raise maxReplicas or add capacity."
            ),
            dashboard=dash,
            capacity_symptom=True,
        ),
        Alert(
            name="TokenscaleScaleUpBlockedUnschedulable",
            expr=f"{blocked} > 0",
            for_=cfg.time("10m"),
            severity=Severity.WARNING,
            summary="Scale-up is blocked: new pods cannot be scheduled.",
            description=(
                f"The autoscaler of {where(cfg)} held {{{{ $value | humanize }}}} scale-ups in the last "
                f"{cfg.time('5m')} because pods it already asked for are unschedulable (GPU capacity exhausted?)."
            ),
            dashboard=dash,
        ),
        Alert(
            name="TokenscaleScalingFlapping",
            expr=f"{events} > {num(t.scale_events_per_hour)}",
            for_=cfg.time("5m"),
            severity=Severity.WARNING,
            summary="The autoscaler changes replica counts too often.",
            description=(
                f"{where(cfg)} was scaled {{{{ $value | humanize }}}} times in the last {cfg.time('1h')} "
                f"(budget {num(t.scale_events_per_hour)}); every change costs a cold start or a drain."
            ),
            dashboard=dash,
        ),
        Alert(
            name="TokenscaleWakeFromZeroSlow",
            expr=f"histogram_quantile(0.9, {wake_buckets}) > {wake_limit}",
            for_=cfg.time("0s"),
            severity=Severity.WARNING,
            summary="Waking a model from zero replicas is slow.",
            description=(
                f"p90 wake-from-zero time of {where(cfg)} over the last {cfg.time('1h')} is "
                f"{{{{ $value | humanizeDuration }}}} (threshold {wake_limit} s); requests held by the activator "
                "wait that long."
            ),
            dashboard=dash,
        ),
        Alert(
            name="TokenscaleCostPerTokenRegression",
            expr=f"{cost_now}\n> {num(t.cost_regression_factor)} * {cost_then}",
            for_=cfg.time("1h"),
            severity=Severity.WARNING,
            summary="Cost per token is much higher than a day ago.",
            description=(
                f"{where(cfg)} costs {{{{ $value | humanize }}}} dollars per million {{{{ $labels.token_type }}}} "
                f"tokens over the last {cfg.time('1h')}, more than {num(t.cost_regression_factor)}x the same hour "
                f"{cfg.time('1d')} earlier: GPUs are held for less traffic."
            ),
            dashboard=DashboardLink(Dashboard.COST, ("namespace", cfg.deployment)),
        ),
        Alert(
            name="TokenscaleDriftDetected",
            expr=f"{agg(tokenscale.DRIFT_DETECTED, layout, 'max', (*dep, 'model_name'))} > 0",
            for_=cfg.time("5m"),
            severity=Severity.WARNING,
            summary="The request mix of a model has drifted from its reference window.",
            description=(
                f"The last drift report for model {{{{ $labels.model_name }}}} ({where(cfg)}) found drift in its "
                "request features (prompt and output lengths, latencies, finish reasons); targets and SLOs tuned "
                "on the old mix may no longer hold."
            ),
            dashboard=DashboardLink(Dashboard.DRIFT, ("namespace", cfg.deployment, "model_name")),
        ),
    )
    return RuleGroup("tokenscale-autoscaler.alerts", "autoscaler", alerts)
