"""The simulator reproduces the published single-replica and cold-start figures within 20 %
(shared/reference/simulator-calibration.md §3), end to end through routing and collection."""

from __future__ import annotations

import numpy as np
import pytest

from scaler.sim.coldstart import ColdStart
from scaler.sim.config import SimConfig
from scaler.sim.core import Simulation
from scaler.sim.outcomes import idle_prefill_seconds
from serving.engine import H100, LLAMA_3_1_8B, LLAMA_3_1_70B, ReplicaConfig
from tests.unit.simkit import Fixed, make_trace


def run_fixed(rows: list[tuple[float, int, int]], replicas: int = 1, **config: object) -> Simulation:
    sim = Simulation(make_trace(rows), SimConfig(initial_replicas=replicas, **config), lambda i, n: Fixed(replicas))  # type: ignore[arg-type]
    sim.run()
    return sim


def test_one_request_on_an_idle_h100_runs_at_about_6_5_ms_per_token() -> None:
    sim = run_fixed([(1.0, 512, 128)])
    tpot = float(sim.outcomes.tpot_s[0])
    assert abs(tpot - 6.5e-3) <= 0.2 * 6.5e-3, tpot
    ttft = float(sim.outcomes.ttft_s[0])
    assert 0.008 <= ttft <= 0.048, ttft  # 10-40 ms published for 1k prompts, within 20 %


def test_idle_prefill_time_is_25_to_30k_tokens_per_second_on_h100() -> None:
    config = ReplicaConfig(gpu=H100, model=LLAMA_3_1_8B)
    seconds = idle_prefill_seconds(config, np.asarray([8192, 1000], dtype=np.int64))
    assert 25_000 * 0.8 <= 8192 / seconds[0] <= 30_000 * 1.2
    assert seconds[1] < seconds[0]


def test_saturation_throughput_of_one_h100_replica_is_in_the_published_range() -> None:
    # vllm bench serve style: 1000 ShareGPT-shaped requests at once; published 6.6k-13.3k tokens/s.
    sim = run_fixed([(0.0, 230, 203)] * 1000)
    assert sim.outcomes.done.all()
    rate = 1000 * 203 / float(np.max(sim.outcomes.finished_s))
    assert 6_000 <= rate <= 13_000, rate


def test_default_cold_start_of_8b_is_25_to_40_s_and_70b_tp4_two_to_three_times_that() -> None:
    cold = ColdStart()
    small = cold.total_s(ReplicaConfig(gpu=H100, model=LLAMA_3_1_8B))
    large = cold.total_s(ReplicaConfig(gpu=H100, model=LLAMA_3_1_70B, tensor_parallel=4))
    assert 25.0 <= small <= 40.0
    assert 2.0 * 0.8 <= large / small <= 3.0 * 1.2
    assert cold.total_s(ReplicaConfig(gpu=H100, model=LLAMA_3_1_8B), image_cached=False) >= small + 240


@pytest.mark.parametrize("replicas", [1, 3])
def test_gpu_hours_of_a_static_fleet_are_replicas_times_duration(replicas: int) -> None:
    rows = [(float(t), 200, 20) for t in range(0, 600, 2)]
    sim = Simulation(
        make_trace(rows, duration_s=600.0), SimConfig(initial_replicas=replicas), lambda i, n: Fixed(replicas)
    )
    result = sim.run()
    assert result.summary["gpu_hours"] == pytest.approx(replicas * 600 / 3600, rel=1e-5)
    assert result.summary["cold_starts"] == 0
    assert result.summary["completed"] == len(rows)
