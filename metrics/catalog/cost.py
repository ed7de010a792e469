"""PromQL for cost per token: recording rules for alerts and dashboards, and the report's reads.

The split rule (see docs/cost.md): one output token costs `output_weight` input tokens of GPU
time, so over a window with P prompt tokens, G output tokens and D GPU dollars

    $/M input  = D * 1e6 / (P + w*G)        $/M output = w * D * 1e6 / (P + w*G)

and P * input + G * output = D * 1e6 exactly. The recording rules take D from the controller's
tokenscale_cost_dollars_total counter (increase() over the window: robust to scrape gaps and
controller restarts, extrapolated at the window edges) and P, G from vLLM's token counters;
`tokenscale report cost` integrates the raw GPU samples instead and is the exact figure.
Savings use avg_over_time x window, which assumes the rule has run for the whole window.
"""

from __future__ import annotations

from dataclasses import dataclass

from metrics.catalog import dcgm, opencost, tokenscale, vllm
from metrics.catalog.families import MetricFamily
from metrics.catalog.promql import (
    ScrapeLayout,
    aggregate,
    increase,
    join_matchers,
    label_replace,
    over_time,
    ratio,
    selector,
    with_label,
)

#: GPU time of one output (decode) token in units of one input (prefill) token. Justified in
#: docs/cost.md: the project's step-time model puts a decode token at 3-7x a prefill token on
#: H100/A100/L4 at batch 32-128, and API list prices use 1:4 (e.g. $2.50/$10 per M tokens).
DEFAULT_OUTPUT_WEIGHT = 4.0
DEFAULT_WINDOW = "1h"

LEVEL = "namespace_deployment"
#: Labels that identify one target in the controller's cost families.
PRICED = ("namespace", "deployment", "autoscaler", "gpu_model")
TARGET = ("namespace", "deployment", "autoscaler")

GPUS_ALLOCATED_RULE = f"{LEVEL}:tokenscale_gpus_allocated:sum"
GPUS_IDLE_RULE = f"{LEVEL}:tokenscale_gpus_idle:sum"
DOLLARS_PER_HOUR_RULE = f"{LEVEL}:tokenscale_gpu_cost_dollars_per_hour:sum"
SAVINGS_PER_HOUR_RULE = f"{LEVEL}:tokenscale_scale_to_zero_savings_dollars_per_hour:sum"


def dollars_rule(window: str = DEFAULT_WINDOW) -> str:
    return f"{LEVEL}:tokenscale_gpu_cost_dollars:increase{window}"


def cost_per_million_rule(window: str = DEFAULT_WINDOW) -> str:
    """Labelled token_type="input"|"output"."""
    return f"{LEVEL}:tokenscale_cost_per_million_tokens_dollars:ratio{window}"


def idle_share_rule(window: str = DEFAULT_WINDOW) -> str:
    return f"{LEVEL}:tokenscale_gpu_idle_share:ratio{window}"


def savings_rule(window: str = DEFAULT_WINDOW) -> str:
    return f"{LEVEL}:tokenscale_scale_to_zero_savings_dollars:increase{window}"


@dataclass(frozen=True)
class CostRecording:
    """One recording rule: the alerts engineer renders these into the shipped rule files."""

    record: str
    expr: str
    help: str
    labels: tuple[tuple[str, str], ...] = ()


def _by(layout: ScrapeLayout) -> tuple[str, ...]:
    return ("namespace", layout.deployment_label)


def _raw(family: MetricFamily, layout: ScrapeLayout) -> str:
    return aggregate(family, layout)


def gpus_allocated(layout: ScrapeLayout) -> str:
    """GPUs held per Deployment right now (starting and idle pods included)."""
    return aggregate(tokenscale.GPUS_ALLOCATED, layout, "sum", _by(layout))


def dollars_per_hour(layout: ScrapeLayout) -> str:
    """GPUs held x the controller's price for them, per Deployment."""
    on = ", ".join(PRICED)
    gpus, price = _raw(tokenscale.GPUS_ALLOCATED, layout), _raw(tokenscale.GPU_PRICE, layout)
    return f"sum by ({', '.join(_by(layout))}) ({gpus} * on ({on}) {price})"


def busy(layout: ScrapeLayout, window: str) -> str:
    """Per Deployment, present (> 0) when during `window` a request ran or waited, or a token was
    generated; absent when idle or when no engine reports (a cold start).

    The token counter catches requests too short for any scrape of the running gauge to see;
    `window` should span at least two scrapes for increase() to have a pair of samples.
    """
    by = ", ".join(_by(layout))
    running = aggregate(vllm.REQUESTS_RUNNING, layout, "sum", _by(layout), over_time("max", window))
    waiting = aggregate(vllm.REQUESTS_WAITING, layout, "sum", _by(layout), over_time("max", window))
    tokens = aggregate(vllm.GENERATION_TOKENS, layout, "sum", _by(layout), increase(window))
    return f"(({running}) > 0) or on ({by}) (({waiting}) > 0) or on ({by}) (({tokens}) > 0)"


def gpus_idle(layout: ScrapeLayout, window: str = "1m") -> str:
    """GPUs held while the Deployment served nothing over the last `window` (see busy()).

    Cold starts count as idle: the GPUs are paid for and serve nothing (same rule as the cost
    dashboard). 0 while busy, so sum_over_time(idle) / sum_over_time(held) is the idle share.
    """
    by = ", ".join(_by(layout))
    held = gpus_allocated(layout)
    return f"(({held}) unless on ({by}) ({busy(layout, window)})) or on ({by}) (({held}) * 0)"


def savings_per_hour(layout: ScrapeLayout) -> str:
    """Dollars per hour that one always-on replica would cost while the target sits at zero.

    0 while serving; needs the controller's tokenscale_gpus_per_replica and price (both exported
    at zero replicas too).
    """
    per_replica = (
        f"{_raw(tokenscale.GPUS_PER_REPLICA, layout)} * on ({', '.join(PRICED)}) {_raw(tokenscale.GPU_PRICE, layout)}"
    )
    at_zero = aggregate(tokenscale.SCALED_TO_ZERO, layout, "max", TARGET)
    return f"sum by ({', '.join(_by(layout))}) (({per_replica}) * on ({', '.join(TARGET)}) group_left () ({at_zero}))"


def tokens_increase(family: MetricFamily, layout: ScrapeLayout, window: str) -> str:
    return aggregate(family, layout, "sum", _by(layout), increase(window))


def cost_per_million_tokens(
    layout: ScrapeLayout, window: str = DEFAULT_WINDOW, output_weight: float = DEFAULT_OUTPUT_WEIGHT
) -> str:
    """$/M input and output tokens over `window` (label token_type), from the recorded dollars."""
    w = f"{output_weight:g}"
    by = ", ".join(_by(layout))
    prompt = tokens_increase(vllm.PROMPT_TOKENS, layout, window)
    output = tokens_increase(vllm.GENERATION_TOKENS, layout, window)
    equivalent = f"({prompt}) + on ({by}) ({w} * ({output}))"
    dollars = dollars_rule(window)
    per_input = ratio(f"{dollars} * 1e6", equivalent)
    per_output = ratio(f"{w} * {dollars} * 1e6", equivalent)
    return f"{with_label(per_input, 'token_type', 'input')} or {with_label(per_output, 'token_type', 'output')}"


def cost_recordings(
    layout: ScrapeLayout,
    window: str = DEFAULT_WINDOW,
    output_weight: float = DEFAULT_OUTPUT_WEIGHT,
    idle_window: str = "1m",
) -> tuple[CostRecording, ...]:
    """The cost recording rules, in evaluation order (later rules read earlier ones).

    `window` is the accounting window of the $/M, idle-share and savings rules; `idle_window` is
    how far back a GPU must have served nothing to count as idle (>= two scrapes).
    """
    hours = _hours(window)
    return (
        CostRecording(GPUS_ALLOCATED_RULE, gpus_allocated(layout), "GPUs held per Deployment."),
        CostRecording(GPUS_IDLE_RULE, gpus_idle(layout, idle_window), f"GPUs held while nothing ran in {idle_window}."),
        CostRecording(DOLLARS_PER_HOUR_RULE, dollars_per_hour(layout), "GPU dollars per hour per Deployment."),
        CostRecording(SAVINGS_PER_HOUR_RULE, savings_per_hour(layout), "One replica's dollars per hour while at zero."),
        CostRecording(
            dollars_rule(window),
            aggregate(tokenscale.COST, layout, "sum", _by(layout), increase(window)),
            f"GPU dollars over the last {window} (the controller's accrued-dollars counter).",
        ),
        CostRecording(
            savings_rule(window),
            f"avg_over_time({SAVINGS_PER_HOUR_RULE}[{window}]) * {hours:g}",
            f"Dollars scale-to-zero saved over the last {window} against one always-on replica.",
        ),
        CostRecording(
            cost_per_million_rule(window),
            cost_per_million_tokens(layout, window, output_weight),
            f"Dollars per million input/output tokens over the last {window} (split rule in docs/cost.md).",
        ),
        CostRecording(
            idle_share_rule(window),
            ratio(f"sum_over_time({GPUS_IDLE_RULE}[{window}])", f"sum_over_time({GPUS_ALLOCATED_RULE}[{window}])"),
            f"Share of held GPU time over the last {window} with nothing running or waiting.",
        ),
    )


def _hours(window: str) -> float:
    units = {"s": 1 / 3600, "m": 1 / 60, "h": 1.0, "d": 24.0}
    if not window or window[-1] not in units or not window[:-1].isdigit():
        raise ValueError(f"window: expected a duration such as 30m, 1h or 1d, got {window!r}")
    return int(window[:-1]) * units[window[-1]]


# --- the report's reads ---------------------------------------------------------------------------
def raw_selectors(family: MetricFamily, layout: ScrapeLayout, window: str, matchers: str = "") -> tuple[str, ...]:
    """`name{matchers}[window]` for every alias of `family`: raw samples, one query per name.

    Range selectors cannot be joined with `or`, so the caller runs each and keeps, per series,
    the preferred name (the first one that returned it).
    """
    base = join_matchers(layout.matchers_for(family.source), matchers)
    return tuple(f"{selector(name, base)}[{window}]" for name in family.names)


def gpus_per_replica_observed(layout: ScrapeLayout) -> str:
    """GPUs per ready replica now, from the controller's gauges (for savings when the controller
    does not export tokenscale_gpus_per_replica)."""
    by = _by(layout)
    ready = aggregate(tokenscale.READY_REPLICAS, layout, "sum", by)
    return ratio(gpus_allocated(layout), ready)


def dcgm_gpus_per_pod(layout: ScrapeLayout) -> str:
    """Most GPUs dcgm-exporter attributes to one pod of each Deployment."""
    by = _by(layout)
    per_pod = aggregate(dcgm.GPU_UTIL, layout, "count", (*by, "pod"))
    return f"max by ({', '.join(by)}) ({per_pod})"


def dcgm_gpu_models(layout: ScrapeLayout) -> str:
    """GPUs per Deployment and dcgm modelName (normalise with metrics.cost.gpu_models)."""
    return aggregate(dcgm.GPU_UTIL, layout, "count", (*_by(layout), "modelName"))


def opencost_price_per_gpu_hour(layout: ScrapeLayout) -> str:
    """GPU-weighted OpenCost node_gpu_hourly_cost of the nodes holding each Deployment's GPUs.

    dcgm-exporter's hostname is the node name; OpenCost labels its node series with `node`.
    """
    by = _by(layout)
    per_host = aggregate(dcgm.GPU_UTIL, layout, "count", (*by, "hostname"))
    node_price = label_replace(
        aggregate(opencost.NODE_GPU_HOURLY_COST, layout, "max", ("node",)), "hostname", "$1", "node", "(.+)"
    )
    priced = f"sum by ({', '.join(by)}) (({per_host}) * on (hostname) group_left () ({node_price}))"
    return ratio(priced, f"sum by ({', '.join(by)}) ({per_host})")
