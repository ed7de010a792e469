"""The cost report as a PNG: spend per model over time, $/M input and output tokens, idle share."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from metrics.cost.accounting import DeploymentCost
from metrics.cost.split import SplitRule


def _label(cost: DeploymentCost) -> str:
    model = "+".join(cost.models) or cost.deployment
    return f"{cost.namespace}/{cost.deployment}" if model == cost.deployment else f"{cost.deployment} ({model})"


def plot_cost(costs: Sequence[DeploymentCost], rule: SplitRule, path: Path, title: str = "GPU cost per token") -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: reports run in CI and in pods
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(4, 1, figsize=(11, 12), sharex=True, constrained_layout=True)
    spend, per_in, per_out, idle = axes
    for cost in costs:
        if not cost.buckets:
            continue
        mids = [datetime.fromtimestamp((b.start + b.end) / 2, UTC) for b in cost.buckets]
        width_h = (cost.buckets[0].end - cost.buckets[0].start) / 3600
        label = _label(cost)
        spend.plot(mids, [b.dollars / width_h for b in cost.buckets], marker=".", label=label)
        prices = [b.prices(rule) for b in cost.buckets]
        per_in.plot(mids, [p.input_per_million if p else float("nan") for p in prices], marker=".", label=label)
        per_out.plot(mids, [p.output_per_million if p else float("nan") for p in prices], marker=".", label=label)
        shares = [b.idle_share for b in cost.buckets]
        idle.plot(mids, [100 * s if s is not None else float("nan") for s in shares], marker=".", label=label)
    spend.set_ylabel("$ per hour")
    spend.set_title(f"{title} (split: 1 output token = {rule.output_weight:g} input tokens)")
    per_in.set_ylabel("$ per M input tokens")
    per_out.set_ylabel("$ per M output tokens")
    # Log scale: a bucket with few tokens and held GPUs costs 100x a busy one; both must be readable.
    for ax in (per_in, per_out):
        if any(line.get_ydata().size for line in ax.get_lines()):
            ax.set_yscale("log")
    idle.set_ylabel("idle share of GPU time, %")
    idle.set_ylim(0, 100)
    for ax in axes:
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", fontsize="small")
    idle.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M", tz=UTC))  # type: ignore[no-untyped-call]
    idle.set_xlabel("time (UTC)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
