"""Scheduler behaviour of the replica model: batching, chunked prefill, KV accounting, preemption,
event skipping equivalence and determinism."""

from __future__ import annotations

import random

import pytest

from serving.engine import (
    H100,
    L4,
    LLAMA_3_1_8B,
    FinishedRequest,
    FinishReason,
    ReplicaConfig,
    ReplicaEngine,
)

H100_8B = ReplicaConfig(gpu=H100, model=LLAMA_3_1_8B)


def random_workload(seed: int, count: int, mean_gap_s: float) -> list[tuple[str, int, int, float]]:
    rng = random.Random(seed)
    now = 0.0
    out = []
    for index in range(count):
        now += rng.expovariate(1 / mean_gap_s)
        out.append((f"r{index}", rng.randint(1, 3000), rng.randint(1, 600), now))
    return out


def run_with_advance(config: ReplicaConfig, workload: list[tuple[str, int, int, float]]) -> ReplicaEngine:
    engine = ReplicaEngine(config)
    for request_id, prompt, output, arrival in workload:
        engine.add_request(request_id, prompt, output, arrival)
    return engine


def drain_by_advance(engine: ReplicaEngine) -> list[FinishedRequest]:
    return list(engine.advance(1e9).finished)


def drain_step_by_step(engine: ReplicaEngine, max_steps: int = 2_000_000) -> list[FinishedRequest]:
    finished: list[FinishedRequest] = []
    for _ in range(max_steps):
        start = engine.next_step_start()
        if start is None:
            return finished
        progress = engine.step(start)
        finished.extend(progress.finished)
        if progress.num_steps == 0:
            break
    raise AssertionError("engine did not drain")


def test_single_request_timeline() -> None:
    engine = ReplicaEngine(H100_8B)
    engine.add_request("a", 100, 10, 1.0)
    progress = engine.advance(100.0)
    (done,) = progress.finished
    assert done.finish_reason is FinishReason.LENGTH
    assert done.output_tokens == 10
    assert done.first_scheduled_s == 1.0
    assert progress.first_tokens == (("a", done.first_token_s),)
    # One prefill step then nine decode steps.
    assert engine.stats.num_steps == 10
    assert engine.stats.prompt_tokens == 100
    assert engine.stats.generation_tokens == 10
    assert engine.stats.inter_token_latency.count == 9
    assert engine.snapshot(100.0).used_blocks == 0


def test_stop_reason_is_kept() -> None:
    engine = ReplicaEngine(H100_8B)
    engine.add_request("a", 10, 3, 0.0, finish_reason=FinishReason.STOP, max_tokens_param=50)
    (done,) = engine.advance(10.0).finished
    assert done.finish_reason is FinishReason.STOP
    assert done.max_tokens_param == 50
    assert engine.stats.finished_by_reason[FinishReason.STOP] == 1


def test_output_is_cut_at_max_model_len() -> None:
    config = ReplicaConfig(gpu=H100, model=LLAMA_3_1_8B, max_model_len=1024)
    engine = ReplicaEngine(config)
    engine.add_request("a", 1000, 500, 0.0, finish_reason=FinishReason.STOP)
    (done,) = engine.advance(100.0).finished
    assert done.output_tokens == 24
    assert done.finish_reason is FinishReason.LENGTH
    with pytest.raises(ValueError, match="max_model_len"):
        engine.add_request("b", 1024, 1, 0.0)


def test_chunked_prefill_splits_a_long_prompt() -> None:
    config = ReplicaConfig(gpu=H100, model=LLAMA_3_1_8B, max_num_batched_tokens=2048)
    engine = ReplicaEngine(config)
    engine.add_request("long", 5000, 2, 0.0)
    (done,) = engine.advance(100.0).finished
    # ceil(5000 / 2048) = 3 prefill steps, then one decode step.
    assert engine.stats.num_steps == 4
    assert done.output_tokens == 2


def test_max_num_seqs_bounds_the_batch() -> None:
    config = ReplicaConfig(gpu=H100, model=LLAMA_3_1_8B, max_num_seqs=8)
    engine = ReplicaEngine(config)
    for index in range(20):
        engine.add_request(f"r{index}", 50, 100, 0.0)
    engine.advance(0.05)
    assert engine.num_running == 8
    assert engine.num_waiting == 12
    for until in (0.1, 0.5, 1.0, 2.0):
        engine.advance(until)
        assert engine.num_running <= 8
        assert engine.num_running + engine.num_waiting == engine.num_live


def test_preemption_when_kv_is_full_and_everything_still_finishes() -> None:
    config = ReplicaConfig(gpu=L4, model=LLAMA_3_1_8B, max_model_len=8192)
    engine = ReplicaEngine(config)
    for index in range(20):
        engine.add_request(f"r{index}", 2000, 2000, 0.0)
    seen_full = False
    finished: list[FinishedRequest] = []
    for second in range(1, 2000):
        finished.extend(engine.advance(float(second)).finished)
        usage = engine.kv_usage
        assert 0.0 <= usage <= 1.0
        seen_full = seen_full or usage > 0.95
        if engine.num_live == 0:
            break
    assert seen_full
    assert engine.stats.num_preemptions > 0
    assert len(finished) == 20
    assert all(done.output_tokens == 2000 for done in finished)
    assert sum(done.num_preemptions for done in finished) == engine.stats.num_preemptions
    assert engine.snapshot(0).used_blocks == 0


def test_abort_frees_blocks_and_counts_the_reason() -> None:
    engine = ReplicaEngine(H100_8B)
    engine.add_request("running", 100, 1000, 0.0)
    engine.advance(0.5)
    engine.add_request("waiting", 100, 10, 10.0)
    assert engine.generated_tokens("running") == pytest.approx(engine.stats.generation_tokens)
    aborted = engine.abort("running", 0.5)
    assert aborted is not None
    assert aborted.finish_reason is FinishReason.ABORT
    failed = engine.abort("waiting", 0.6, FinishReason.ERROR)
    assert failed is not None
    assert failed.first_scheduled_s is None
    assert engine.abort("unknown", 0.6) is None
    assert engine.snapshot(1.0).used_blocks == 0
    assert engine.stats.finished_by_reason[FinishReason.ABORT] == 1
    assert engine.stats.finished_by_reason[FinishReason.ERROR] == 1
    assert engine.next_step_start() is None


def test_generated_tokens_counts_lazily_during_decode() -> None:
    engine = ReplicaEngine(H100_8B)
    engine.add_request("a", 10, 500, 0.0)
    engine.advance(0.2)
    generated = engine.generated_tokens("a")
    assert generated is not None
    assert 1 < generated < 500
    assert generated == engine.stats.generation_tokens


def test_no_request_starts_before_it_arrives() -> None:
    engine = ReplicaEngine(H100_8B)
    engine.add_request("early", 10, 2000, 0.0)
    engine.add_request("late", 10, 5, 3.0)
    finished = engine.advance(100.0).finished
    late = next(done for done in finished if done.request_id == "late")
    assert late.first_scheduled_s is not None
    assert late.first_scheduled_s >= 3.0
    assert late.first_scheduled_s - 3.0 < 0.05


def test_filled_kv_cache_stalls_the_queue_without_looping() -> None:
    engine = ReplicaEngine(H100_8B)
    engine.reserve_blocks(H100_8B.num_gpu_blocks)
    engine.add_request("a", 100, 10, 0.0)
    progress = engine.advance(10.0)
    assert progress.num_steps == 0
    assert engine.num_waiting == 1
    assert engine.kv_usage == 1.0
    engine.reserve_blocks(0)
    assert len(engine.advance(20.0).finished) == 1


def test_forced_preemption_recomputes() -> None:
    engine = ReplicaEngine(H100_8B)
    engine.add_request("a", 100, 300, 0.0)
    engine.advance(0.5)
    assert engine.preempt_newest(1) == ["a"]
    progress = engine.advance(100.0)
    assert progress.preempted == ("a",)
    (done,) = progress.finished
    assert done.num_preemptions == 1
    assert done.output_tokens == 300
    # Prompt tokens are counted once, not again for the recompute.
    assert engine.stats.prompt_tokens == 100


def test_slowdown_stretches_steps() -> None:
    fast = ReplicaEngine(H100_8B)
    slow = ReplicaEngine(H100_8B)
    slow.slowdown = 3.0
    for engine in (fast, slow):
        engine.add_request("a", 100, 50, 0.0)
    (fast_done,) = fast.advance(100.0).finished
    (slow_done,) = slow.advance(100.0).finished
    assert slow_done.e2e_s == pytest.approx(3 * fast_done.e2e_s)


@pytest.mark.parametrize("config", [H100_8B, ReplicaConfig(gpu=L4, model=LLAMA_3_1_8B, max_model_len=4096)])
def test_event_skipping_matches_step_by_step(config: ReplicaConfig) -> None:
    workload = random_workload(seed=7, count=300, mean_gap_s=0.05)
    by_advance = run_with_advance(config, workload)
    by_step = run_with_advance(config, workload)
    skipped = sorted(drain_by_advance(by_advance), key=lambda done: done.request_id)
    stepped = sorted(drain_step_by_step(by_step), key=lambda done: done.request_id)
    assert len(skipped) == len(stepped) == 300
    for one, other in zip(skipped, stepped, strict=True):
        assert one.output_tokens == other.output_tokens
        assert one.num_preemptions == other.num_preemptions
        assert one.finished_s == pytest.approx(other.finished_s, rel=1e-9)
        assert one.first_token_s == pytest.approx(other.first_token_s, rel=1e-9)
    assert by_advance.stats.num_steps == by_step.stats.num_steps
    assert by_advance.stats.generation_tokens == by_step.stats.generation_tokens
    assert by_advance.stats.num_preemptions == by_step.stats.num_preemptions
    if config.gpu is L4:
        assert by_advance.stats.num_preemptions > 0
    itl_a, itl_s = by_advance.stats.inter_token_latency, by_step.stats.inter_token_latency
    assert itl_a.count == itl_s.count
    assert itl_a.sum == pytest.approx(itl_s.sum, rel=1e-9)
    assert by_advance.stats.iteration_tokens.bucket_counts == by_step.stats.iteration_tokens.bucket_counts
    # Event skipping actually skipped.
    assert by_advance.stats.busy_s == pytest.approx(by_step.stats.busy_s, rel=1e-9)


def test_identical_inputs_give_identical_results() -> None:
    workload = random_workload(seed=11, count=200, mean_gap_s=0.02)
    runs = [drain_by_advance(run_with_advance(H100_8B, workload)) for _ in range(2)]
    assert runs[0] == runs[1]


def test_every_token_after_the_first_has_one_gap() -> None:
    workload = random_workload(seed=3, count=100, mean_gap_s=0.1)
    engine = run_with_advance(H100_8B, workload)
    finished = drain_by_advance(engine)
    assert engine.stats.num_preemptions == 0
    gaps = sum(done.output_tokens - 1 for done in finished)
    assert engine.stats.inter_token_latency.count == gaps
    assert engine.stats.generation_tokens == sum(done.output_tokens for done in finished)
    assert engine.stats.prompt_tokens == sum(done.prompt_tokens for done in finished)
