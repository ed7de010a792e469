"""Cost: dollars per million tokens, dollars per hour, idle GPU time and what scale-to-zero saved.

Idle share and savings are derived here from what the controller and the engines export:
* a Deployment's GPUs are idle while none of its engines has a running or waiting request (cold
  starts count as idle: the GPUs are paid for and serve nothing);
* scale-to-zero saves, for each hour at zero, one replica's GPUs at the Deployment's GPU price
  (what keeping minReplicas at 1 would have cost). GPUs per replica is the largest ratio of
  allocated GPUs to ready replicas seen in the range; a Deployment never ready in the range has
  no savings figure rather than a guessed one.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import runbooks, units
from dashboards.base import new_dashboard, with_sections
from dashboards.panels import PanelBuilder, Query, Size, stat_panel, table_panel, timeseries_panel
from dashboards.queries import (
    NAMESPACE,
    RANGE,
    TARGET,
    TARGET_FILTER,
    TARGET_LEGEND,
    gauge,
    gauge_over_range,
    legend,
    matchers,
    sum_increase,
    sum_rate,
)
from dashboards.variables import label_variable
from metrics.catalog import ratio, tokenscale, vllm

UID = "tokenscale-cost"
T = TARGET_FILTER
BY = ", ".join(TARGET)
# A subquery over the dashboard range at the panel's resolution.
OVER_RANGE = f"[{RANGE}:$__interval]"
RANGE_HOURS = "($__range_s / 3600)"

GPUS = gauge(tokenscale.GPUS_ALLOCATED, "sum", TARGET, T)
BUSY = (
    f"({gauge(vllm.REQUESTS_RUNNING, 'sum', TARGET, T)}) + on ({BY}) ({gauge(vllm.REQUESTS_WAITING, 'sum', TARGET, T)})"
)
IDLE_GPUS = f"({GPUS}) unless on ({BY}) (({BUSY}) > 0)"
SERVING_GPUS = f"({GPUS}) and on ({BY}) (({BUSY}) > 0)"


def idle_share(by: str) -> str:
    """Idle GPU-time over GPU-time held in the range, summed `by` (e.g. "" or the target labels)."""
    group = f" by ({by})" if by else ""
    return ratio(
        f"sum{group} (sum_over_time(({IDLE_GPUS}){OVER_RANGE}))",
        f"sum{group} (sum_over_time(({GPUS}){OVER_RANGE}))",
    )


def savings_by_target() -> str:
    hours_at_zero = f"({gauge_over_range(tokenscale.SCALED_TO_ZERO, 'avg', 'max', TARGET, T)}) * {RANGE_HOURS}"
    price = gauge(tokenscale.GPU_PRICE, "max", TARGET, T)
    gpus_per_replica = ratio(GPUS, gauge(tokenscale.READY_REPLICAS, "sum", TARGET, T))
    return f"({hours_at_zero}) * ({price}) * max by ({BY}) (max_over_time(({gpus_per_replica}){OVER_RANGE}))"


def cost_per_million(token_type: str) -> str:
    return gauge(tokenscale.COST_PER_MILLION_TOKENS, "max", TARGET, matchers(T, f'token_type="{token_type}"'))


def _stats() -> list[PanelBuilder]:
    return [
        stat_panel(
            "Spend in range",
            "GPU dollars accrued in the selected range (idle and cold-start time included).",
            units.DOLLARS,
            [Query(sum_increase(tokenscale.COST, (), T))],
        ),
        stat_panel(
            "Spend rate",
            "GPU dollars per hour at the current allocation.",
            units.DOLLARS_PER_HOUR,
            [Query(f"3600 * ({sum_rate(tokenscale.COST, (), T)})")],
        ),
        stat_panel(
            "GPUs held",
            "GPUs allocated to the selected Deployments now (starting and idle pods included).",
            units.GPUS,
            [Query(gauge(tokenscale.GPUS_ALLOCATED, "sum", (), T))],
        ),
        stat_panel(
            "GPU-hours in range",
            "GPU-hours held in the selected range.",
            units.GPU_HOURS,
            [Query(f"({gauge_over_range(tokenscale.GPUS_ALLOCATED, 'avg', 'sum', (), T)}) * {RANGE_HOURS}")],
        ),
        stat_panel(
            "Idle share",
            "Share of held GPU-time in the range during which the Deployment had no running or waiting request.",
            units.RATIO,
            [Query(idle_share(""))],
            runbook=runbooks.GPU_IDLE,
            thresholds=((None, "green"), (0.3, "orange"), (0.6, "red")),
        ),
        stat_panel(
            "Saved by scale-to-zero",
            "Dollars one replica would have cost during the time the Deployments spent at zero in the range.",
            units.DOLLARS,
            [Query(f"sum ({savings_by_target()})")],
        ),
    ]


def _per_deployment() -> list[PanelBuilder]:
    return [
        timeseries_panel(
            "$ per million input tokens",
            "GPU dollars per million prompt tokens over the cost window, per Deployment.",
            units.DOLLARS_PER_MILLION_TOKENS,
            [Query(cost_per_million("input"), TARGET_LEGEND)],
            runbook=runbooks.COST_REGRESSION,
            log_scale=True,
        ),
        timeseries_panel(
            "$ per million output tokens",
            "GPU dollars per million output tokens over the cost window, per Deployment.",
            units.DOLLARS_PER_MILLION_TOKENS,
            [Query(cost_per_million("output"), TARGET_LEGEND)],
            runbook=runbooks.COST_REGRESSION,
            log_scale=True,
        ),
        timeseries_panel(
            "$ per hour",
            "GPU dollars per hour per Deployment.",
            units.DOLLARS_PER_HOUR,
            [Query(f"3600 * ({sum_rate(tokenscale.COST, TARGET, T)})", TARGET_LEGEND)],
            stack=True,
        ),
        timeseries_panel(
            "GPUs held: serving or idle",
            "GPUs per Deployment split by whether its engines had any request; idle includes cold starts.",
            units.GPUS,
            [
                Query(SERVING_GPUS, legend(*TARGET, suffix="serving")),
                Query(IDLE_GPUS, legend(*TARGET, suffix="idle")),
            ],
            stack=True,
        ),
        table_panel(
            "Per Deployment over the range",
            "Spend, token prices now, idle share, time at zero and scale-to-zero savings per Deployment.",
            units.DOLLARS,
            [
                Query(sum_increase(tokenscale.COST, TARGET, T), column="Spend", unit=units.DOLLARS),
                Query(cost_per_million("input"), column="$/M input", unit=units.DOLLARS),
                Query(cost_per_million("output"), column="$/M output", unit=units.DOLLARS),
                Query(idle_share(BY), column="Idle share", unit=units.RATIO),
                Query(
                    gauge_over_range(tokenscale.SCALED_TO_ZERO, "avg", "max", TARGET, T),
                    column="Time at zero",
                    unit=units.RATIO,
                ),
                Query(savings_by_target(), column="Saved by zero", unit=units.DOLLARS),
            ],
            Size(24, 6),
        ),
    ]


def build() -> dashboard.Dashboard:
    families = (tokenscale.COST, tokenscale.GPUS_ALLOCATED)
    board = (
        new_dashboard(
            UID,
            "tokenscale / Cost",
            "What the GPUs cost per token and per hour, how much of that time was idle, and what scale-to-zero saved.",
        )
        .with_variable(label_variable("namespace", "Namespace", families))
        .with_variable(label_variable("deployment", "Deployment", families, NAMESPACE))
    )
    return with_sections(board, [("Over the range", _stats()), ("Per Deployment", _per_deployment())])
