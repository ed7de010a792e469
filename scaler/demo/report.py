"""The demo's report: plots a person would rather look at than read, and a short Markdown page."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import itertools

import matplotlib.pyplot as plt

from serving.emulators.replay import RequestOutcome

Points = list[tuple[float, float]]


@dataclass(frozen=True)
class ScaleEvent:
    at: float
    reason: str
    message: str


@dataclass(frozen=True)
class DemoResult:
    title: str
    started_at: float
    ended_at: float
    history: Mapping[str, Points]
    outcomes: Sequence[RequestOutcome]
    replay_started_at: float
    events: Sequence[ScaleEvent]
    notifications: Sequence[tuple[float, str, str]]  # (time, service, alertname)
    facts: Mapping[str, str] = field(default_factory=dict)


def _quantile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def _integral(points: Points) -> float:
    """Step integral: a gauge holds its value until the next sample."""
    return sum(v * (t2 - t1) for (t1, v), (t2, _) in itertools.pairwise(points))


def _t(points: Points, t0: float) -> tuple[list[float], list[float]]:
    return [p[0] - t0 for p in points], [p[1] for p in points]


def plot(result: DemoResult, out: Path) -> Path:
    h, t0 = result.history, result.started_at
    fig, axes = plt.subplots(4, 1, figsize=(12, 13), sharex=True, constrained_layout=True)
    fig.suptitle(result.title, fontsize=13)

    ax = axes[0]
    ax.set_title("Demand against replicas")
    for key, label, color in (("arrivals", "arrivals (req/s, activator)", "tab:gray"), ("running", "running in vLLM", "tab:blue"),
                              ("waiting", "queued in vLLM", "tab:orange"), ("held", "held at activator", "tab:red")):  # fmt: skip
        xs, ys = _t(h.get(key, []), t0)
        if xs:
            ax.plot(xs, ys, label=label, color=color, linewidth=1.2)
    ax.set_ylabel("requests")
    twin = ax.twinx()
    for key, label, style in (("desired", "desired replicas", "--"), ("ready", "ready replicas", "-")):
        xs, ys = _t(h.get(key, []), t0)
        if xs:
            twin.step(
                xs,
                ys,
                where="post",
                linestyle=style,
                color="black",
                linewidth=2 if key == "ready" else 1.2,
                label=label,
            )
    twin.set_ylabel("replicas")
    twin.set_ylim(bottom=0)
    lines = ax.get_legend_handles_labels()
    lines2 = twin.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper right", fontsize=8, ncol=2)
    for event in result.events:
        ax.axvline(event.at - t0, color="tab:purple", alpha=0.25)
        ax.annotate(
            event.reason, (event.at - t0, ax.get_ylim()[1]), rotation=90, fontsize=7, va="top", color="tab:purple"
        )

    ax = axes[1]
    ax.set_title("Time to first token, per request (client side, hold included)")
    ok = [o for o in result.outcomes if o.ttft_s is not None and o.status == 200]
    if ok:
        ax.scatter([result.replay_started_at - t0 + o.sent_s for o in ok], [o.ttft_s or 0 for o in ok], s=4, alpha=0.5,
                   label="TTFT", color="tab:blue")  # fmt: skip
    xs, ys = _t(h.get("ttft_p95", []), t0)
    if xs:
        ax.plot(xs, ys, color="tab:red", label="engine TTFT p95 (vLLM histogram)")
    ax.set_yscale("log")
    ax.set_ylabel("seconds")
    ax.legend(loc="upper left", fontsize=8)

    ax = axes[2]
    ax.set_title("Engine load")
    xs, ys = _t(h.get("output_tps", []), t0)
    if xs:
        ax.plot(xs, ys, label="output tokens/s", color="tab:green")
    xs, ys = _t(h.get("prompt_tps", []), t0)
    if xs:
        ax.plot(xs, ys, label="prompt tokens/s", color="tab:olive")
    ax.set_ylabel("tokens/s")
    twin = ax.twinx()
    xs, ys = _t(h.get("kv", []), t0)
    if xs:
        twin.plot(xs, [y * 100 for y in ys], label="KV cache, fullest pod (%)", color="tab:brown", linestyle=":")
    twin.set_ylabel("KV cache %")
    twin.set_ylim(0, 100)
    lines, lines2 = ax.get_legend_handles_labels(), twin.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)

    ax = axes[3]
    ax.set_title("GPUs held and money spent")
    xs, ys = _t(h.get("gpus", []), t0)
    if xs:
        ax.step(xs, ys, where="post", label="GPUs allocated", color="tab:blue")
    ax.set_ylabel("GPUs")
    twin = ax.twinx()
    xs, ys = _t(h.get("dollars", []), t0)
    if xs:
        twin.plot(xs, ys, label="GPU dollars (cumulative)", color="tab:green")
    twin.set_ylabel("$")
    lines, lines2 = ax.get_legend_handles_labels(), twin.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)
    ax.set_xlabel("seconds since the stack came up")
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def summary(result: DemoResult) -> dict[str, str]:
    h = result.history
    ok = [o for o in result.outcomes if o.status == 200]
    ttft = [o.ttft_s for o in ok if o.ttft_s is not None]
    gpu_seconds = _integral(h.get("gpus", []))
    dollars = max((v for _, v in h.get("dollars", [])), default=0.0)
    out_tokens = sum(o.completion_tokens for o in ok)
    in_tokens = sum(o.prompt_tokens for o in ok)
    ready = h.get("ready", [])
    at_zero = sum(t2 - t1 for (t1, v), (t2, _) in itertools.pairwise(ready) if v == 0)
    rows = {
        "requests sent / answered / failed": f"{len(result.outcomes)} / {len(ok)} / {len(result.outcomes) - len(ok)}",
        "TTFT p50 / p95 / p99 (client, hold included)": " / ".join(
            f"{q:.2f} s" if q is not None else "n/a"
            for q in (_quantile(ttft, 0.5), _quantile(ttft, 0.95), _quantile(ttft, 0.99))
        ),
        "tokens in / out": f"{in_tokens:,} / {out_tokens:,}",
        "peak replicas (ready)": f"{max((v for _, v in ready), default=0):.0f}",
        "scale events": str(len(result.events)),
        "time at zero replicas": f"{at_zero:.0f} s",
        "GPU-hours (allocated, start-up and idle included)": f"{gpu_seconds / 3600:.4f}",
        "GPU cost": f"${dollars:.4f}",
        "cost per 1M tokens (all GPU time / all tokens)": (
            f"${dollars / (in_tokens + out_tokens) * 1e6:.2f}" if in_tokens + out_tokens else "n/a"
        ),
        "alert notifications (Slack / PagerDuty sink)": str(len(result.notifications)),
    }
    rows.update(result.facts)
    return rows


def markdown(result: DemoResult, plot_name: str, extras: Sequence[str]) -> str:
    rows = summary(result)
    lines = [f"# {result.title}", "", f"![demand, replicas, latency and cost]({plot_name})", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows.items()]
    lines += ["", "## Scale events", ""]
    if result.events:
        lines += ["| t (s) | reason | message |", "|---:|---|---|"]
        lines += [f"| {e.at - result.started_at:.0f} | {e.reason} | {e.message} |" for e in result.events]
    else:
        lines.append("none")
    if result.notifications:
        lines += ["", "## Alert notifications", "", "| t (s) | receiver | alert |", "|---:|---|---|"]
        lines += [f"| {t - result.started_at:.0f} | {svc} | {name} |" for t, svc, name in result.notifications]
    lines += ["", *extras, ""]
    lines.append(
        "Traces: Azure LLM inference trace 2023 (Azure/AzurePublicDataset, CC-BY-4.0; Patel et al., "
        "Splitwise, ISCA 2024). GPUs and vLLM are emulated; the Kubernetes API server, Prometheus and "
        "Alertmanager are real."
    )
    return "\n".join(lines) + "\n"
