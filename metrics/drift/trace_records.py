"""Trace rows (`arrival_s,input_tokens,output_tokens`) turned into RequestRecords without a server.

For drift tests at trace scale (thousands of requests in milliseconds) and for seeding a reference
from a published trace. Token counts are the trace's. Latencies follow a documented model of one
Llama-3.1-8B replica on an H100 (serving/engine's step-time figures) with seeded log-normal
noise, so a shift in prompt length moves TTFT the way it would on the real engine:

    ttft_s     = (0.015 + 45e-6 * prompt_tokens) * LogNormal(0, 0.25)   prefill ~45 us/token + scheduling
    itl_mean_s = 0.012 * LogNormal(0, 0.15)                               one decode step at moderate batch
    e2e_s      = ttft_s + itl_mean_s * (output_tokens - 1)
    hold_s     = 0 (a warm Deployment), finish_reason "stop", status 200

The real path (trace -> activator -> vLLM emulator -> records) is exercised by
tests/integration/test_drift_records.py; this converter is the documented stand-in for scale.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Iterator
from pathlib import Path

from metrics.request_record import RequestRecord

PREFILL_S_PER_TOKEN = 45e-6
SCHEDULING_S = 0.015
DECODE_STEP_S = 0.012


def trace_rows(path: Path) -> Iterator[tuple[float, int, int]]:
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            yield float(row["arrival_s"]), max(1, int(row["input_tokens"])), max(1, int(row["output_tokens"]))


def records_from_rows(
    rows: Iterable[tuple[float, int, int]],
    *,
    start_ts: float,
    namespace: str,
    deployment: str,
    model: str,
    seed: int = 0,
) -> list[RequestRecord]:
    rng = random.Random(seed)
    out: list[RequestRecord] = []
    for arrival_s, prompt, output in rows:
        ttft = (SCHEDULING_S + PREFILL_S_PER_TOKEN * prompt) * rng.lognormvariate(0, 0.25)
        itl = DECODE_STEP_S * rng.lognormvariate(0, 0.15)
        out.append(
            RequestRecord(
                ts=start_ts + arrival_s,
                namespace=namespace,
                deployment=deployment,
                model=model,
                endpoint="/v1/completions",
                stream=True,
                status=200,
                hold_s=0.0,
                ttft_s=ttft,
                e2e_s=ttft + itl * (output - 1),
                itl_mean_s=itl if output > 1 else None,
                prompt_tokens=prompt,
                output_tokens=output,
                finish_reason="stop",
            )
        )
    return out
