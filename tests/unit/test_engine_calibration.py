"""The replica model against published single-replica figures (simulator-calibration.md §3).

Each check allows 20% around the published point, or asserts the published range directly.
"""

from __future__ import annotations

import pytest

from serving.engine import (
    A10G,
    A100_40GB,
    A100_80GB,
    H100,
    L4,
    LLAMA_3_1_8B,
    LLAMA_3_1_70B,
    GpuSpec,
    ModelSpec,
    ReplicaConfig,
    ReplicaEngine,
)


def single_request_tpot(gpu: GpuSpec, model: ModelSpec, tp: int = 1, prompt: int = 512, output: int = 128) -> float:
    engine = ReplicaEngine(ReplicaConfig(gpu=gpu, model=model, tensor_parallel=tp))
    engine.add_request("only", prompt, output, 0.0)
    (done,) = engine.advance(1e6).finished
    return done.time_per_output_token_s


def burst_output_rate(config: ReplicaConfig, requests: int, prompt: int, output: int) -> float:
    """Output tokens/s when `requests` identical requests arrive at once (vllm bench serve style)."""
    engine = ReplicaEngine(config)
    for index in range(requests):
        engine.add_request(f"r{index}", prompt, output, 0.0)
    finished = engine.advance(1e6).finished
    assert len(finished) == requests
    return engine.stats.generation_tokens / max(done.finished_s for done in finished)


def within(value: float, published: float, tolerance: float = 0.2) -> bool:
    return abs(value - published) <= tolerance * published


def test_8b_h100_time_per_token_at_concurrency_1() -> None:
    tpot = single_request_tpot(H100, LLAMA_3_1_8B)
    assert within(tpot, 6.5e-3), tpot


def test_8b_a100_80gb_time_per_token_at_concurrency_1() -> None:
    tpot = single_request_tpot(A100_80GB, LLAMA_3_1_8B)
    assert within(tpot, 11e-3), tpot


def test_8b_a100_40gb_time_per_token_at_concurrency_1() -> None:
    # johnmusgrave.com sweep: about 13.3 ms on A100-40GB.
    tpot = single_request_tpot(A100_40GB, LLAMA_3_1_8B, prompt=1024)
    assert within(tpot, 13.3e-3), tpot


def test_70b_tp4_h100_time_per_token_at_batch_1() -> None:
    tpot = single_request_tpot(H100, LLAMA_3_1_70B, tp=4)
    assert within(tpot, 30e-3), tpot


def test_70b_tp4_a100_time_per_token_at_batch_1() -> None:
    # SplitwiseSim perf DB: 45 ms on A100 TP4.
    tpot = single_request_tpot(A100_80GB, LLAMA_3_1_70B, tp=4)
    assert within(tpot, 45e-3), tpot


def test_8b_h100_saturation_throughput_is_in_the_published_range() -> None:
    # ShareGPT-shaped burst as in `vllm bench serve` (mean ~230 prompt, ~200 output tokens):
    # published 6.6k (vLLM) to 13.3k (NIM plateau) output tokens/s.
    rate = burst_output_rate(ReplicaConfig(gpu=H100, model=LLAMA_3_1_8B), 1000, 230, 203)
    assert 6_000 <= rate <= 13_000, rate


def test_8b_h100_kv_cache_is_about_430k_tokens() -> None:
    tokens = ReplicaConfig(gpu=H100, model=LLAMA_3_1_8B).kv_capacity_tokens
    assert within(tokens, 430_000), tokens


@pytest.mark.parametrize("gpu", [L4, A10G])
def test_8b_on_24gb_gpus_has_25_to_31k_kv_tokens(gpu: GpuSpec) -> None:
    tokens = ReplicaConfig(gpu=gpu, model=LLAMA_3_1_8B).kv_capacity_tokens
    assert 25_000 <= tokens <= 31_500, tokens


def test_70b_tp4_h100_kv_cache_is_about_470k_tokens() -> None:
    tokens = ReplicaConfig(gpu=H100, model=LLAMA_3_1_70B, tensor_parallel=4).kv_capacity_tokens
    assert within(tokens, 470_000), tokens


def test_8b_h100_prefill_rate_is_25_to_30k_tokens_per_second() -> None:
    config = ReplicaConfig(gpu=H100, model=LLAMA_3_1_8B)
    engine = ReplicaEngine(config)
    seconds = engine.cost.prefill_seconds(8192)
    assert 25_000 * 0.8 <= 8192 / seconds <= 30_000 * 1.2, 8192 / seconds


def test_8b_h100_low_load_ttft_for_1k_prompt_is_10_to_40_ms_within_20_percent() -> None:
    engine = ReplicaEngine(ReplicaConfig(gpu=H100, model=LLAMA_3_1_8B))
    engine.add_request("only", 1000, 16, 0.0)
    (done,) = engine.advance(1e6).finished
    assert done.ttft_s is not None
    assert 0.010 * 0.8 <= done.ttft_s <= 0.040 * 1.2, done.ttft_s


def test_gpu_prices_match_the_on_demand_table() -> None:
    prices = {gpu.name: gpu.usd_per_gpu_hour for gpu in (H100, A100_80GB, L4, A10G, A100_40GB)}
    assert prices == {"H100": 6.88, "A100-80GB": 3.43, "L4": 0.80, "A10G": 1.01, "A100-40GB": 2.74}
    assert ReplicaConfig(gpu=H100, model=LLAMA_3_1_70B, tensor_parallel=4).usd_per_hour == pytest.approx(27.52)
