"""Benchmark figures: replicas against demand over time per policy, and SLO attainment against
GPU-hours. Matplotlib with the Agg backend (no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

ATTRIBUTION = (
    "Traces: Azure LLM inference 2023 (CC-BY-4.0, Patel et al., Splitwise, ISCA 2024); "
    "Mooncake (Apache-2.0); ServeGen (Apache-2.0)"
)
_COLORS = {
    "tokenscale": "#1f77b4",
    "hpa": "#d62728",
    "keda": "#ff7f0e",
    "kpa": "#2ca02c",
    "oracle": "#7f7f7f",
}


def color(label: str) -> str:
    return _COLORS.get(label.split(maxsplit=1)[0].split("-", maxsplit=1)[0], "#9467bd")


@dataclass(frozen=True, eq=False)
class Series:
    label: str
    t: FloatArray
    ready: FloatArray
    billed: FloatArray


def plot_replicas(
    path: Path, title: str, demand_t: FloatArray, demand: FloatArray, demand_label: str, runs: Sequence[Series]
) -> None:
    """One panel per policy: billed and ready replicas over the demand (in replicas)."""
    hours = demand_t.max(initial=0.0) > 3 * 3600
    unit, scale = ("h", 3600.0) if hours else ("min", 60.0)
    fig, axes = plt.subplots(len(runs), 1, figsize=(11, 1.7 * len(runs) + 0.8), sharex=True, sharey=True)
    axes_list = np.atleast_1d(axes)
    for ax, run in zip(axes_list, runs, strict=True):
        ax.fill_between(demand_t / scale, demand, step="post", color="#bbbbbb", alpha=0.6, linewidth=0,
                        label=demand_label)  # fmt: skip
        ax.step(run.t / scale, run.billed, where="post", color=color(run.label), alpha=0.45, linewidth=1.0,
                label="billed (incl. starting, draining)")  # fmt: skip
        ax.step(run.t / scale, run.ready, where="post", color=color(run.label), linewidth=1.4, label="ready")
        ax.set_ylabel("replicas")
        ax.text(0.005, 0.93, run.label, transform=ax.transAxes, va="top", fontsize=9, fontweight="bold")
        ax.grid(alpha=0.25)
    axes_list[0].legend(loc="upper right", fontsize=7, ncol=3)
    axes_list[-1].set_xlabel(f"time ({unit})")
    fig.suptitle(title, fontsize=11)
    fig.text(0.01, 0.003, ATTRIBUTION, fontsize=6, color="#555555")
    fig.tight_layout(rect=(0, 0.015, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


@dataclass(frozen=True)
class Point:
    label: str
    gpu_hours: float
    ttft_attainment: float
    itl_attainment: float


def plot_pareto(path: Path, title: str, points: Sequence[Point], goal: float = 0.99) -> None:
    """TTFT-SLO attainment against GPU-hours, one marker per policy variant (up and left is better)."""
    fig, ax = plt.subplots(figsize=(7.5, 5))
    xs = [p.gpu_hours for p in points]
    ys = [p.ttft_attainment * 100 for p in points]
    x_span = max(max(xs) - min(xs), 1e-9)
    y_span = max(max(ys) - min(ys), 1e-9)
    for index, p in enumerate(points):
        marker = "*" if p.label.startswith("tokenscale") else ("s" if p.label == "oracle" else "o")
        ax.scatter(xs[index], ys[index], s=140 if marker == "*" else 60, marker=marker,
                   color=color(p.label), edgecolor="black", linewidth=0.5, zorder=3)  # fmt: skip
        # Stack the labels of points that sit on top of each other.
        crowd = sum(
            1
            for other in range(index)
            if abs(xs[other] - xs[index]) < 0.04 * x_span and abs(ys[other] - ys[index]) < 0.04 * y_span
        )
        ax.annotate(p.label, (xs[index], ys[index]), textcoords="offset points", xytext=(6, 4 - 10 * crowd),
                    fontsize=8)  # fmt: skip
    ax.axhline(goal * 100, color="#444444", linestyle="--", linewidth=0.8)
    ax.text(ax.get_xlim()[1], goal * 100, f"goal {goal * 100:g} % ", va="bottom", ha="right", fontsize=8,
            color="#444444")  # fmt: skip
    ax.set_xlabel("GPU-hours (billed from pod start, cold starts included)")
    ax.set_ylabel("TTFT SLO attainment (%)")
    low = min([p.ttft_attainment * 100 for p in points] + [goal * 100])
    ax.set_ylim(max(0.0, low - (100 - low) * 0.1 - 0.5), 100.3)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    fig.text(0.01, 0.005, ATTRIBUTION, fontsize=5.5, color="#555555")
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
