"""Autoscaler: what the controller saw, what it decided and why, and whether it is healthy."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import runbooks, units
from dashboards.base import new_dashboard, with_sections
from dashboards.panels import THIRD, PanelBuilder, Query, stat_panel, timeseries_panel
from dashboards.queries import (
    NAMESPACE,
    TARGET,
    TARGET_FILTER,
    TARGET_LEGEND,
    count_in_range,
    gauge,
    gauge_over_range,
    legend,
    matchers,
    or_zero,
    quantile,
    sum_increase,
    sum_rate,
)
from dashboards.variables import label_variable
from metrics.catalog import ratio, tokenscale

UID = "tokenscale-autoscaler"
T = TARGET_FILTER
HOUR = "1h"

STALE = matchers(T, f'reason=~"{"|".join(tokenscale.DATA_HOLD_REASONS)}"')


def _stats() -> list[PanelBuilder]:
    decisions_in_range = sum_increase(tokenscale.DECISIONS, (), T)
    return [
        stat_panel(
            "Since last good tick",
            "Seconds since the controller last finished a tick with fresh metrics; it holds replicas meanwhile.",
            units.SECONDS,
            [Query(f"time() - ({gauge(tokenscale.LAST_SUCCESSFUL_TICK, 'max')})")],
            runbook=(runbooks.CONTROLLER_NOT_TICKING, runbooks.CONTROLLER_DOWN),
            thresholds=((None, "green"), (60, "orange"), (180, "red")),
        ),
        stat_panel(
            "Tick duration p99",
            "99th percentile wall time of one control-loop tick.",
            units.SECONDS,
            [Query(quantile(0.99, tokenscale.TICK_DURATION))],
        ),
        stat_panel(
            "Prometheus reachable",
            "Whether every Prometheus query of the last tick succeeded.",
            units.BOOL,
            [Query(gauge(tokenscale.PROMETHEUS_UP, "min"))],
            runbook=runbooks.PROMETHEUS_UNREACHABLE,
            thresholds=((None, "red"), (1, "green")),
        ),
        stat_panel(
            "Held on stale data",
            "Decisions in the range that held the replica count because a signal was missing or stale.",
            units.COUNT,
            [Query(count_in_range(or_zero(sum_increase(tokenscale.DECISIONS, (), STALE), decisions_in_range)))],
            runbook=runbooks.HELD_STALE_METRICS,
            thresholds=((None, "green"), (1, "orange")),
        ),
        stat_panel(
            "Scale events",
            "Replica changes written to /scale in the range.",
            units.COUNT,
            [Query(count_in_range(or_zero(sum_increase(tokenscale.SCALE_EVENTS, (), T), decisions_in_range)))],
            runbook=runbooks.SCALING_FLAPPING,
        ),
        stat_panel(
            "Targets at zero",
            "Autoscaled Deployments scaled to zero right now.",
            units.COUNT,
            [Query(gauge(tokenscale.SCALED_TO_ZERO, "sum", (), T))],
        ),
    ]


def _decisions() -> list[PanelBuilder]:
    per_target_decisions = sum_rate(tokenscale.DECISIONS, TARGET, T)
    signal = (*TARGET, "signal")
    return [
        timeseries_panel(
            "Desired, current and ready replicas",
            "Replicas the last decision asked for, what /scale reports, and how many are ready.",
            units.REPLICAS,
            [
                Query(gauge(tokenscale.DESIRED_REPLICAS, "max", TARGET, T), legend(*TARGET, suffix="desired")),
                Query(gauge(tokenscale.CURRENT_REPLICAS, "max", TARGET, T), legend(*TARGET, suffix="current")),
                Query(gauge(tokenscale.READY_REPLICAS, "max", TARGET, T), legend(*TARGET, suffix="ready")),
            ],
            runbook=(runbooks.REPLICAS_BELOW_DESIRED, runbooks.MAXED_OUT_QUEUE_GROWING),
        ),
        timeseries_panel(
            "Decisions by reason",
            "Decisions per minute by the reason the controller gave (every decision carries one).",
            units.OPS_PER_MINUTE,
            [Query(f"60 * ({sum_rate(tokenscale.DECISIONS, ('reason',), T)})", "{{reason}}")],
            stack=True,
        ),
        timeseries_panel(
            "Decisions held on stale data",
            "Decisions per minute that held the count because a signal was missing or stale, per target.",
            units.OPS_PER_MINUTE,
            [
                Query(
                    f"60 * ({or_zero(sum_rate(tokenscale.DECISIONS, TARGET, STALE), per_target_decisions, TARGET)})",
                    TARGET_LEGEND,
                )
            ],
            runbook=runbooks.HELD_STALE_METRICS,
        ),
        timeseries_panel(
            "Scale events per hour",
            "Replica changes written to /scale over the last hour, by direction; many means flapping.",
            units.PER_HOUR,
            [
                Query(
                    or_zero(
                        sum_increase(tokenscale.SCALE_EVENTS, (*TARGET, "direction"), T, HOUR),
                        sum_increase(tokenscale.DECISIONS, TARGET, T, HOUR),
                        TARGET,
                    ),
                    legend(*TARGET, suffix="{{direction}}"),
                )
            ],
            runbook=runbooks.SCALING_FLAPPING,
        ),
        timeseries_panel(
            "Replicas each signal asks for",
            "Observed demand divided by the target per replica, per signal: the controller scales to the largest.",
            units.REPLICAS,
            [
                Query(
                    ratio(
                        gauge(tokenscale.OBSERVED_SIGNAL, "max", signal, T),
                        gauge(tokenscale.SIGNAL_TARGET, "max", signal, T),
                    ),
                    legend(*TARGET, suffix="{{signal}}"),
                )
            ],
        ),
        timeseries_panel(
            "Pending and unschedulable pods",
            "Pods asked for but not running; unschedulable ones usually mean no free GPU.",
            units.COUNT,
            [
                Query(gauge(tokenscale.PENDING_PODS, "max", TARGET, T), legend(*TARGET, suffix="pending")),
                Query(gauge(tokenscale.UNSCHEDULABLE_PODS, "max", TARGET, T), legend(*TARGET, suffix="unschedulable")),
            ],
            runbook=runbooks.SCALE_UP_UNSCHEDULABLE,
        ),
    ]


def _zero() -> list[PanelBuilder]:
    return [
        timeseries_panel(
            "At zero",
            "1 while a target is scaled to zero (its requests then wait in the activator).",
            units.BOOL,
            [Query(gauge(tokenscale.SCALED_TO_ZERO, "max", TARGET, T), TARGET_LEGEND)],
            THIRD,
        ),
        stat_panel(
            "Time at zero",
            "Share of the range each target spent at zero replicas.",
            units.RATIO,
            [Query(gauge_over_range(tokenscale.SCALED_TO_ZERO, "avg", "max", TARGET, T), TARGET_LEGEND)],
            THIRD,
        ),
        timeseries_panel(
            "Wake-ups per hour",
            "Wake-ups from zero over the last hour: completed ones (controller) and wake signals the activator sent.",
            units.PER_HOUR,
            [
                Query(
                    sum_increase(tokenscale.WAKE_DURATION, TARGET, T, HOUR, "_count"),
                    legend(*TARGET, suffix="completed"),
                ),
                Query(
                    sum_increase(tokenscale.ACTIVATOR_WAKE_SIGNALS, TARGET, T, HOUR),
                    legend(*TARGET, suffix="signalled"),
                ),
            ],
            THIRD,
        ),
        timeseries_panel(
            "Wake-up duration",
            "From the first request seen at zero to the first ready replica, p50 and p95 over the last hour.",
            units.SECONDS,
            [
                Query(quantile(0.5, tokenscale.WAKE_DURATION, TARGET, T, HOUR), legend(*TARGET, suffix="p50")),
                Query(quantile(0.95, tokenscale.WAKE_DURATION, TARGET, T, HOUR), legend(*TARGET, suffix="p95")),
            ],
            THIRD,
            runbook=runbooks.WAKE_SLOW,
        ),
        timeseries_panel(
            "Activator hold time",
            "How long the activator held requests before a ready replica appeared, p95 over the last hour.",
            units.SECONDS,
            [Query(quantile(0.95, tokenscale.ACTIVATOR_HOLD, TARGET, T, HOUR), TARGET_LEGEND)],
            THIRD,
            runbook=runbooks.WAKE_SLOW,
        ),
        timeseries_panel(
            "Activator requests and rejections",
            "Requests per second reaching the activator, and those it refused (queue full, timeout).",
            units.REQUESTS_PER_SECOND,
            [
                Query(sum_rate(tokenscale.ACTIVATOR_REQUESTS, TARGET, T), legend(*TARGET, suffix="received")),
                Query(
                    or_zero(
                        sum_rate(tokenscale.ACTIVATOR_REJECTED, (*TARGET, "reason"), T),
                        sum_rate(tokenscale.ACTIVATOR_REQUESTS, TARGET, T),
                        TARGET,
                    ),
                    legend(*TARGET, suffix="rejected {{reason}}"),
                ),
            ],
            THIRD,
        ),
    ]


def _controller() -> list[PanelBuilder]:
    ticks = sum_rate(tokenscale.TICKS)
    return [
        timeseries_panel(
            "Tick duration",
            "Wall time of one control-loop tick, p50 and p99.",
            units.SECONDS,
            [Query(quantile(q, tokenscale.TICK_DURATION), f"p{round(q * 100)}") for q in (0.5, 0.99)],
            THIRD,
        ),
        timeseries_panel(
            "Ticks by outcome",
            "Ticks per minute: ok, degraded (some signals missing) or failed.",
            units.OPS_PER_MINUTE,
            [Query(f"60 * ({sum_rate(tokenscale.TICKS, ('outcome',))})", "{{outcome}}")],
            THIRD,
            stack=True,
        ),
        timeseries_panel(
            "Errors talking to Prometheus and Kubernetes",
            "Failed Prometheus queries and Kubernetes API calls per minute.",
            units.OPS_PER_MINUTE,
            [
                Query(
                    f"60 * ({or_zero(sum_rate(tokenscale.QUERY_ERRORS, ('error',)), ticks)})",
                    "prometheus {{error}}",
                ),
                Query(
                    f"60 * ({or_zero(sum_rate(tokenscale.KUBE_ERRORS, ('operation',)), ticks)})",
                    "kubernetes {{operation}}",
                ),
            ],
            THIRD,
            runbook=runbooks.PROMETHEUS_UNREACHABLE,
        ),
    ]


def build() -> dashboard.Dashboard:
    families = (tokenscale.DESIRED_REPLICAS,)
    board = (
        new_dashboard(
            UID,
            "tokenscale / Autoscaler",
            "Decisions and their reasons, desired against current replicas, scale to zero and wake-ups, "
            "and the controller's own health.",
        )
        .with_variable(label_variable("namespace", "Namespace", families))
        .with_variable(label_variable("deployment", "Deployment", families, NAMESPACE))
    )
    return with_sections(
        board,
        [
            ("Controller health", _stats()),
            ("Decisions", _decisions()),
            ("Scale to zero and wake-ups", _zero()),
            ("Control loop", _controller()),
        ],
    )
