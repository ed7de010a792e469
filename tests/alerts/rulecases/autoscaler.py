"""promtool cases for the autoscaler alerts, from the controller's tokenscale_* series."""

from __future__ import annotations

from alerts.model import Severity
from metrics.catalog import tokenscale, vllm
from tests.alerts.rulecases.dsl import AlertAt, Case, Fires, Series, Spelling
from tests.alerts.rulecases.fixtures import DEPLOYMENT_LABELS, MODEL, NS, controller, controller_global
from tests.alerts.rulecases.fixtures import vllm as vs

W, C = Severity.WARNING, Severity.CRITICAL
JOB = {"job": "tokenscale"}


def controller_health() -> list[Case]:
    down, ticking, prom = (
        "TokenscaleControllerDown",
        "TokenscaleControllerNotTicking",
        "TokenscalePrometheusUnreachable",
    )
    alive = controller_global(tokenscale.TICK_DURATION, "0+60x20", "_count")

    def ticks(outcome: str, values: str) -> Series:
        return controller_global(tokenscale.TICKS, values, outcome=outcome)

    unrelated = vs(vllm.REQUESTS_RUNNING, Spelling.CURRENT, "1x20")
    return [
        Case("controller down: no controller series at all", (unrelated,),
             (AlertAt("3m", down), AlertAt("7m", down, (Fires(C, {}, 1),)))),
        Case("controller up, even before its first good tick", (alive,), (AlertAt("7m", down),)),
        Case("controller stuck: the ok counter stopped", (alive, ticks("ok", "0+60x5 300x15")),
             (AlertAt("6m", ticking), AlertAt("12m", ticking, (Fires(C, JOB, 0),)), AlertAt("12m", down))),
        Case("controller never succeeded: every tick fails", (alive, ticks("failed", "0+60x20")),
             (AlertAt("6m", ticking, (Fires(C, JOB, 0),)),)),
        Case("controller scheduler dead from the start: no tick at all", (controller_global(tokenscale.TICK_DURATION, "0x20", "_count"),),
             (AlertAt("6m", ticking, (Fires(C, JOB, 0),)),)),
        Case("controller ticking every second", (alive, ticks("ok", "0+60x20"), ticks("degraded", "0+1x20")),
             (AlertAt("12m", ticking),)),
        Case("Prometheus unreachable from the controller", (controller_global(tokenscale.PROMETHEUS_UP, "0x20"),),
             (AlertAt("3m", prom), AlertAt("7m", prom, (Fires(C, JOB, 0),)))),
        Case("Prometheus reachable", (controller_global(tokenscale.PROMETHEUS_UP, "1x20"),), (AlertAt("7m", prom),)),
        Case("a healthy controller in another cluster does not hide this one",
             (controller_global(tokenscale.PROMETHEUS_UP, "0x20"),
              controller_global(tokenscale.PROMETHEUS_UP, "1x20", cluster="eu-2")),
             (AlertAt("7m", prom, (Fires(C, JOB, 0),)),)),
    ]  # fmt: skip


def _decisions(**per_min: float) -> tuple[Series, ...]:
    return tuple(controller(tokenscale.DECISIONS, f"0+{n:g}x40", reason=r) for r, n in per_min.items())


def decisions() -> list[Case]:
    held, blocked = "TokenscaleDecisionsHeldStaleMetrics", "TokenscaleScaleUpBlockedUnschedulable"
    return [
        Case("held: 8 of 10 decisions hold on stale or missing metrics",
             _decisions(HoldStaleMetrics=5, HoldMissingMetrics=3, ScaleUp=2),
             (AlertAt("8m", held), AlertAt("25m", held, (Fires(W, DEPLOYMENT_LABELS, 0.8),)))),
        Case("held: 2 of 10 decisions (a blip)", _decisions(HoldStaleMetrics=2, ScaleUp=8), (AlertAt("25m", held),)),
        Case("held: Prometheus down is its own alert", _decisions(HoldPrometheusDown=10), (AlertAt("25m", held),)),
        Case("blocked: scale-up blocked by unschedulable pods",
             _decisions(ScaleUpBlockedUnschedulable=2, ScaleUp=1),
             (AlertAt("5m", blocked), AlertAt("20m", blocked, (Fires(W, DEPLOYMENT_LABELS, 10),)))),
        Case("blocked: scale-ups go through", _decisions(ScaleUp=2), (AlertAt("20m", blocked),)),
    ]  # fmt: skip


def maxed_out() -> list[Case]:
    name = "TokenscaleMaxedOutQueueGrowing"

    def scaler(desired: int, maximum: int) -> tuple[Series, ...]:
        return (
            controller(tokenscale.DESIRED_REPLICAS, f"{desired}x40"),
            controller(tokenscale.MAX_REPLICAS, f"{maximum}x40"),
        )

    return [
        Case("maxed out: at 8 of 8 while the queue grows", (*scaler(8, 8), vs(vllm.REQUESTS_WAITING, Spelling.UNDERSCORE, "10+5x40")),
             (AlertAt("5m", name), AlertAt("20m", name, (Fires(W, DEPLOYMENT_LABELS, 8),)))),
        Case("maxed out but the queue drains", (*scaler(8, 8), vs(vllm.REQUESTS_WAITING, Spelling.CURRENT, "200-5x40")),
             (AlertAt("20m", name),)),
        Case("queue grows below max: the autoscaler still has room", (*scaler(6, 8), vs(vllm.REQUESTS_WAITING, Spelling.CURRENT, "10+5x40")),
             (AlertAt("20m", name),)),
    ]  # fmt: skip


def flapping() -> list[Case]:
    name = "TokenscaleScalingFlapping"

    def events(per_min: float) -> tuple[Series, ...]:
        return tuple(controller(tokenscale.SCALE_EVENTS, f"0+{per_min:g}x80", direction=d) for d in ("up", "down"))

    return [
        Case(
            "flapping: 30 scale events in an hour",
            events(0.25),
            (AlertAt("70m", name, (Fires(W, DEPLOYMENT_LABELS, 30),)),),
        ),
        Case("flapping: 6 scale events in an hour", events(0.05), (AlertAt("70m", name),)),
    ]


def wake() -> list[Case]:
    name = "TokenscaleWakeFromZeroSlow"

    def wakes(slow: bool) -> tuple[Series, ...]:
        # Two wakes at t=10m, both in the (120, 300] bucket when slow, in (0, 60] when fast.
        f = tokenscale.WAKE_DURATION
        step = "0x9 2x40"
        return (
            controller(f, step if not slow else "0x50", "_bucket", le="60"),
            controller(f, step if not slow else "0x50", "_bucket", le="120"),
            controller(f, step, "_bucket", le="300"),
            controller(f, step, "_bucket", le="+Inf"),
            controller(f, step, "_count"),
        )

    return [
        Case("wake: two wakes took 2-5 minutes", wakes(slow=True),
             (AlertAt("5m", name), AlertAt("30m", name, (Fires(W, DEPLOYMENT_LABELS, 282),)))),
        Case("wake: two wakes under a minute", wakes(slow=False), (AlertAt("30m", name),)),
    ]  # fmt: skip


def cost() -> list[Case]:
    name = "TokenscaleCostPerTokenRegression"

    def series(before: float, after: float) -> tuple[Series, ...]:
        # 25 h at `before` dollars per million output tokens, then `after` (10 m samples).
        return (controller(tokenscale.COST_PER_MILLION_TOKENS, f"{before:g}x150 {after:g}x50", token_type="output"),)

    labels = {**DEPLOYMENT_LABELS, "token_type": "output"}
    return [
        Case("cost: 2 -> 4 dollars per million tokens", series(2, 4),
             (AlertAt("25h", name), AlertAt("28h", name, (Fires(W, labels, 4),))), interval="10m"),
        Case("cost: 2 -> 2.5 is within 1.5x", series(2, 2.5), (AlertAt("28h", name),), interval="10m"),
    ]  # fmt: skip


def drift() -> list[Case]:
    name = "TokenscaleDriftDetected"
    labels = {"namespace": NS, "deployment": DEPLOYMENT_LABELS["deployment"], "model_name": MODEL}

    def drift_series(value: int) -> Series:
        return controller(tokenscale.DRIFT_DETECTED, f"{value}x20", model_name=MODEL)

    return [
        Case("drift detected", (drift_series(1),), (AlertAt("3m", name), AlertAt("7m", name, (Fires(W, labels, 1),)))),
        Case("no drift", (drift_series(0),), (AlertAt("7m", name),)),
    ]


def cases() -> list[Case]:
    return [*controller_health(), *decisions(), *maxed_out(), *flapping(), *wake(), *drift()]


def slow_cases() -> list[Case]:
    """Cases that need a day of history: evaluated every 10 minutes (their own file)."""
    return cost()
