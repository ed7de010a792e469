"""Token counting and generation length rules of the emulator."""

from __future__ import annotations

import pytest

from serving.emulators.vllm.faults import Faults, MetricsFault
from serving.emulators.vllm.text import (
    RequestError,
    chat_prompt_tokens,
    completion_prompt_tokens,
    filler_text,
    plan_generation,
)
from serving.engine import FinishReason


def test_prompt_token_counting() -> None:
    assert completion_prompt_tokens("one two  three\nfour") == 4
    assert completion_prompt_tokens("") == 1
    assert completion_prompt_tokens([1, 2, 3]) == 3
    assert completion_prompt_tokens(["a b"]) == 2
    assert chat_prompt_tokens([{"role": "user", "content": "a b"}, {"role": "assistant", "content": None}]) == 2
    with pytest.raises(RequestError):
        completion_prompt_tokens(["a", "b"])


def test_generation_plans() -> None:
    plan = plan_generation({"max_tokens": 10}, 5, 100, chat=False)
    assert (plan.output_tokens, plan.finish_reason, plan.max_tokens_param) == (10, FinishReason.LENGTH, 10)
    plan = plan_generation({"max_tokens": 10, "min_tokens": 4}, 5, 100, chat=False)
    assert (plan.output_tokens, plan.finish_reason) == (4, FinishReason.STOP)
    plan = plan_generation({"max_tokens": 10, "min_tokens": 10}, 5, 100, chat=False)
    assert (plan.output_tokens, plan.finish_reason) == (10, FinishReason.LENGTH)
    plan = plan_generation({}, 5, 100, chat=False)
    assert (plan.output_tokens, plan.finish_reason, plan.max_tokens_param) == (16, FinishReason.LENGTH, None)
    plan = plan_generation({"max_completion_tokens": 7}, 5, 100, chat=True)
    assert plan.output_tokens == 7
    assert plan_generation({}, 5, 100, chat=True).finish_reason is FinishReason.STOP
    for body in ({"max_tokens": 96}, {"max_tokens": 0}, {"max_tokens": 3, "min_tokens": 4}, {"max_tokens": "x"}):
        with pytest.raises(RequestError):
            plan_generation(body, 5, 100, chat=False)


def test_filler_text_is_one_word_per_token() -> None:
    assert filler_text(0, 3) == " lorem ipsum dolor"
    assert len(filler_text(5, 45).split()) == 40


def test_fault_validation() -> None:
    faults = Faults().updated({"paused": True, "slowdown": 3, "metrics": "hang"})
    assert (faults.paused, faults.slowdown, faults.metrics) == (True, 3.0, MetricsFault.HANG)
    for bad in ({"paused": 1}, {"kv_fill": 2}, {"metrics": "boom"}, {"nope": 1}, {"error_fraction": "x"}):
        with pytest.raises(ValueError):
            Faults().updated(bad)
