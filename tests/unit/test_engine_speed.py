"""The fleet simulator's budget: a one-hour trace at 10x must simulate in well under 60 s on one core."""

from __future__ import annotations

import csv
import random
import time

from serving.engine import H100, LLAMA_3_1_8B, ReplicaConfig, ReplicaEngine
from serving.stack.shared_data import trace

TRACE = trace("azure2023_conv.csv")


def load_trace_at_10x() -> list[tuple[float, int, int]]:
    """The hour-long conversation trace, ten times the rate: ten copies with shifted arrivals."""
    with TRACE.open() as handle:
        rows = [
            (float(r["arrival_s"]), int(r["input_tokens"]), int(r["output_tokens"])) for r in csv.DictReader(handle)
        ]
    rng = random.Random(0)
    arrivals = [(arrival + rng.uniform(0, 1), prompt, output) for _ in range(10) for arrival, prompt, output in rows]
    arrivals.sort()
    return arrivals


def test_one_hour_at_10x_simulates_fast() -> None:
    requests = load_trace_at_10x()
    config = ReplicaConfig(gpu=H100, model=LLAMA_3_1_8B)
    engines = [ReplicaEngine(config) for _ in range(10)]
    started = time.perf_counter()
    finished = 0
    next_tick = 0.0
    for index, (arrival, prompt, output) in enumerate(requests):
        while next_tick <= arrival:
            # A control loop that looks at every replica once per second.
            for engine in engines:
                finished += len(engine.advance(next_tick).finished)
                engine.snapshot(next_tick)
            next_tick += 1.0
        target = min(engines, key=lambda engine: engine.num_live)
        finished += len(target.advance(arrival).finished)
        target.add_request(str(index), min(prompt, config.max_model_len - 1), max(1, output), arrival)
    for engine in engines:
        finished += len(engine.advance(1e9).finished)
    elapsed = time.perf_counter() - started
    assert finished == len(requests)
    assert elapsed < 30.0, f"{len(requests)} requests took {elapsed:.1f} s"
