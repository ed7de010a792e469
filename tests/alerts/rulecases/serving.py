"""promtool cases for the serving alerts; each vLLM case runs under every name spelling."""

from __future__ import annotations

from alerts.model import Severity
from metrics.catalog import tokenscale, vllm
from tests.alerts.rulecases.dsl import AlertAt, Case, Fires, Series, Spelling, spellings
from tests.alerts.rulecases.fixtures import DEPLOYMENT_LABELS, MODEL_LABELS, POD2, controller
from tests.alerts.rulecases.fixtures import vllm as vs

W, C = Severity.WARNING, Severity.CRITICAL
BURN = "VLLMTimeToFirstTokenBudgetBurn"


def _ttft(s: Spelling, good_per_min: int, total_per_min: int) -> tuple[Series, ...]:
    # prometheus_client prints le="1.0", Go clients le="1": the rules must match both.
    le = "1" if s is Spelling.UNDERSCORE else "1.0"
    f = vllm.TIME_TO_FIRST_TOKEN
    return (
        vs(f, s, f"0+{good_per_min}x300", "_bucket", le=le),
        vs(f, s, f"0+{total_per_min}x300", "_bucket", le="+Inf"),
        vs(f, s, f"0+{total_per_min}x300", "_count"),
    )


def ttft_burn() -> list[Case]:
    cases = []
    for s in spellings(vllm.TIME_TO_FIRST_TOKEN):
        fast = tuple(
            Fires(C, MODEL_LABELS, 0.5, {"long": long, "short": short}) for long, short in (("1h", "5m"), ("6h", "30m"))
        )
        cases.append(
            Case(
                f"TTFT burn: half the requests miss 1 s -> both fast-burn pages ({s.value})",
                _ttft(s, 30, 60),
                (AlertAt("1m", BURN), AlertAt("20m", BURN, fast)),
            )
        )
    slow = tuple(Fires(W, MODEL_LABELS, 0.05, {"long": lg, "short": sh}) for lg, sh in (("1d", "2h"), ("3d", "6h")))
    cases += [
        Case("TTFT burn: 5% miss -> slow-burn warnings only", _ttft(Spelling.CURRENT, 95, 100), (AlertAt("4h", BURN, slow),)),
        Case("TTFT burn: 0.5% miss is within the 1% budget", _ttft(Spelling.CURRENT, 199, 200), (AlertAt("4h", BURN),)),
        Case(
            "TTFT burn: no traffic is not a burn",
            (vs(vllm.TIME_TO_FIRST_TOKEN, Spelling.CURRENT, "100x300", "_bucket", le="1.0"),
             vs(vllm.TIME_TO_FIRST_TOKEN, Spelling.CURRENT, "100x300", "_count")),
            (AlertAt("4h", BURN),),
        ),
    ]  # fmt: skip
    return cases


def _itl(s: Spelling, bucket_le: str) -> tuple[Series, ...]:
    """10 tokens/s, every gap in the bucket ending at bucket_le."""
    f = vllm.INTER_TOKEN_LATENCY
    les = ("0.1", "0.3", "0.4", "+Inf")
    first = les.index(bucket_le)
    return (
        *(vs(f, s, "0+10x40" if i >= first else "0x40", "_bucket", le=le) for i, le in enumerate(les)),
        vs(f, s, "0+10x40", "_count"),
    )


def itl() -> list[Case]:
    name = "VLLMInterTokenLatencyHigh"
    cases = [
        Case(
            f"ITL p95 395 ms ({s.value}: {s.spell(vllm.INTER_TOKEN_LATENCY, '_bucket')})",
            _itl(s, "0.4"),
            (AlertAt("10m", name), AlertAt("20m", name, (Fires(W, MODEL_LABELS, 0.395),))),
        )
        for s in spellings(vllm.INTER_TOKEN_LATENCY)
    ]
    cases += [
        Case(f"ITL p95 under 100 ms ({s.value})", _itl(s, "0.1"), (AlertAt("20m", name),))
        for s in spellings(vllm.INTER_TOKEN_LATENCY)
    ]
    return cases


def queue() -> list[Case]:
    name = "VLLMRequestQueueBacklog"
    f = vllm.REQUESTS_WAITING
    cases = [
        Case(
            f"queue: 15 and 13 waiting on two engines ({s.value})",
            (vs(f, s, "15x20"), vs(f, s, "13x20", pod=POD2)),
            (AlertAt("5m", name), AlertAt("12m", name, (Fires(W, MODEL_LABELS, 14),))),
        )
        for s in spellings(f)
    ]
    cases += [
        Case(f"queue: 5 waiting is normal ({s.value})", (vs(f, s, "5x20"),), (AlertAt("12m", name),))
        for s in spellings(f)
    ]
    return cases


def kv_cache() -> list[Case]:
    name = "VLLMKVCacheNearlyFull"
    f = vllm.KV_CACHE_USAGE
    cases = [
        Case(
            f"KV cache: fullest pod at 97% ({s.spell(f)})",
            (vs(f, s, "0.5x20"), vs(f, s, "0.97x20", pod=POD2)),
            (AlertAt("5m", name), AlertAt("12m", name, (Fires(W, MODEL_LABELS, 0.97),))),
        )
        for s in spellings(f)
    ]
    cases += [
        Case(f"KV cache at 90% is busy, not full ({s.spell(f)})", (vs(f, s, "0.9x20"),), (AlertAt("12m", name),))
        for s in spellings(f)
    ]
    return cases


def preemptions() -> list[Case]:
    name = "VLLMPreemptionsRising"
    f = vllm.PREEMPTIONS
    cases = [
        Case(
            f"preemptions: 6 per minute ({s.value})",
            (vs(f, s, "0+6x30"),),
            (AlertAt("20m", name, (Fires(W, MODEL_LABELS, 0.1),)),),
        )
        for s in spellings(f)
    ]
    cases += [
        Case(f"preemptions: 1 per minute ({s.value})", (vs(f, s, "0+1x30"),), (AlertAt("20m", name),))
        for s in spellings(f)
    ]
    return cases


def _finished(s: Spelling, **per_min: int) -> tuple[Series, ...]:
    return tuple(vs(vllm.REQUEST_SUCCESS, s, f"0+{n}x30", finished_reason=r) for r, n in per_min.items())


def errors_and_aborts() -> list[Case]:
    err, abort = "VLLMRequestErrorRateHigh", "VLLMRequestAbortRateHigh"
    cases = [
        Case(
            f"errors: 10% of finished requests ({s.value})",
            _finished(s, stop=54, error=6),
            (AlertAt("3m", err), AlertAt("10m", err, (Fires(C, MODEL_LABELS, 0.1),))),
        )
        for s in spellings(vllm.REQUEST_SUCCESS)
    ]
    cases += [
        *(Case(f"errors: 1 in 60 ({s.value})", _finished(s, stop=59, error=1), (AlertAt("10m", err),)) for s in spellings(vllm.REQUEST_SUCCESS)),
        Case("errors: 50% of 2 requests a minute is too little traffic to judge",
             _finished(Spelling.CURRENT, stop=1, error=1), (AlertAt("10m", err),)),
        Case("aborts: 30% of finished requests", _finished(Spelling.UNDERSCORE, stop=42, abort=18),
             (AlertAt("20m", abort, (Fires(W, MODEL_LABELS, 0.3),)), AlertAt("20m", err))),
        Case("aborts: 10% is normal client behaviour", _finished(Spelling.CURRENT, stop=54, abort=6),
             (AlertAt("20m", abort),)),
    ]  # fmt: skip
    return cases


def _replicas(current: int, ready: int, pending: int = 0, desired: int | str | None = "spec") -> tuple[Series, ...]:
    """Controller gauges; desired=None means the controller holds and publishes no desired count."""
    out = (
        controller(tokenscale.CURRENT_REPLICAS, f"{current}x30"),
        controller(tokenscale.READY_REPLICAS, f"{ready}x30"),
        controller(tokenscale.PENDING_PODS, f"{pending}x30"),
    )
    if desired is None:
        return out
    return (*out, controller(tokenscale.DESIRED_REPLICAS, f"{current if desired == 'spec' else desired}x30"))


def startup_and_replicas() -> list[Case]:
    slow, below, missing = "VLLMStartupSlow", "VLLMReplicasBelowDesired", "VLLMMetricsMissing"
    running = vs(vllm.REQUESTS_RUNNING, Spelling.CURRENT, "3x30")
    return [
        Case("start-up: one pod running but not ready for 5 minutes", (*_replicas(3, 1, pending=1), running),
             (AlertAt("1m", slow), AlertAt("5m", slow, (Fires(W, DEPLOYMENT_LABELS, 1),)))),
        Case("start-up: the not-ready pod is Pending (unschedulable), not starting", (*_replicas(3, 2, pending=1), running),
             (AlertAt("5m", slow),)),
        Case("replicas: 2 of 4 ready for 20 minutes", (*_replicas(4, 2), running),
             (AlertAt("10m", below), AlertAt("20m", below, (Fires(W, DEPLOYMENT_LABELS, 2),)))),
        Case("replicas: none of 2 ready pages first, then the warning joins",
             (*_replicas(2, 0),),
             (AlertAt("12m", below, (Fires(C, DEPLOYMENT_LABELS, 2),)),
              AlertAt("20m", below, (Fires(C, DEPLOYMENT_LABELS, 2), Fires(W, DEPLOYMENT_LABELS, 2))))),
        Case("replicas: holding (no desired count), none of 2 ready", _replicas(2, 0, desired=None),
             (AlertAt("12m", below, (Fires(C, DEPLOYMENT_LABELS, 2),)),)),
        Case("replicas: the autoscaler wants 5 but rate-limits, spec 3, 3 ready", (*_replicas(3, 3, desired=5), running),
             (AlertAt("20m", below),)),
        Case("replicas: all ready", (*_replicas(3, 3), running), (AlertAt("20m", below),)),
        Case("metrics missing: 2 ready replicas, no vLLM series", _replicas(2, 2),
             (AlertAt("5m", missing), AlertAt("12m", missing, (Fires(C, DEPLOYMENT_LABELS, 2),)))),
        Case("metrics missing: vLLM series present under the vllm_ spelling",
             (*_replicas(2, 2), vs(vllm.REQUESTS_RUNNING, Spelling.UNDERSCORE, "1x30")), (AlertAt("12m", missing),)),
        Case("metrics missing: scaled to zero, nothing to scrape", _replicas(0, 0), (AlertAt("12m", missing),)),
    ]  # fmt: skip


def cases() -> list[Case]:
    return [*ttft_burn(), *itl(), *queue(), *kv_cache(), *preemptions(), *errors_and_aborts(), *startup_and_replicas()]
