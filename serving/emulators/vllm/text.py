"""Token counting and generated text for the emulator, which has no tokenizer.

Convention: one token per whitespace-separated word of the prompt (completions) or of the message
contents (chat; roles and the chat template add nothing); a prompt given as token ids counts its
ids; an empty prompt counts as one token. Generated text is filler words, one word per token,
each with a leading space, the same sequence for every request.

Generation length: `max_tokens` (or `max_completion_tokens`) ends the output with finish_reason
"length". If the request sets vLLM's `min_tokens` below that, the output stops right after
min_tokens tokens with finish_reason "stop", as if EOS had been sampled. With neither, completions
generate vLLM's default of 16 tokens (length) and chat stops after 128 tokens (stop).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from serving.engine import FinishReason

FILLER_WORDS = (
    "lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do",
    "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna", "aliqua", "enim",
)  # fmt: skip
COMPLETIONS_DEFAULT_MAX_TOKENS = 16
CHAT_NATURAL_LENGTH = 128


class RequestError(ValueError):
    """A request the OpenAI server would refuse with 400 (or 404 for an unknown model)."""

    def __init__(self, message: str, status: int = 400, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.param = param


def count_words(text: str) -> int:
    return len(text.split())


def completion_prompt_tokens(prompt: Any) -> int:
    """Token count of a /v1/completions prompt: a string, a one-element list, or token ids."""
    if isinstance(prompt, str):
        return max(1, count_words(prompt))
    if isinstance(prompt, list) and prompt:
        if all(isinstance(item, int) for item in prompt):
            return len(prompt)
        if len(prompt) == 1:
            return completion_prompt_tokens(prompt[0])
        raise RequestError("the emulator takes one prompt per request", param="prompt")
    raise RequestError("prompt must be a string, a list with one string, or a list of token ids", param="prompt")


def chat_prompt_tokens(messages: Any) -> int:
    """Token count of chat messages: the words of every text content."""
    if not isinstance(messages, list) or not messages:
        raise RequestError("messages must be a non-empty list", param="messages")
    words = 0
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str):
            words += count_words(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                    words += count_words(part["text"])
    return max(1, words)


def filler_text(start: int, end: int) -> str:
    """The text of generated tokens start..end-1."""
    return "".join(" " + FILLER_WORDS[index % len(FILLER_WORDS)] for index in range(start, end))


@dataclass(frozen=True, slots=True)
class GenerationPlan:
    prompt_tokens: int
    output_tokens: int
    finish_reason: FinishReason
    # The max_tokens the client sent, if any (vllm:request_params_max_tokens observes it).
    max_tokens_param: int | None


def _positive_int(body: Mapping[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RequestError(f"{key} must be a non-negative integer, got {value!r}", param=key)
    return value


def plan_generation(body: Mapping[str, Any], prompt_tokens: int, max_model_len: int, chat: bool) -> GenerationPlan:
    if prompt_tokens >= max_model_len:
        raise RequestError(
            f"This model's maximum context length is {max_model_len} tokens. However, your request has "
            f"{prompt_tokens} input tokens.",
            param="input_tokens",
        )
    max_tokens = _positive_int(body, "max_tokens")
    if max_tokens is None and chat:
        max_tokens = _positive_int(body, "max_completion_tokens")
    min_tokens = _positive_int(body, "min_tokens") or 0
    room = max_model_len - prompt_tokens
    if max_tokens is not None and max_tokens > room:
        raise RequestError(
            f"max_tokens is too large: {max_tokens}. This model's maximum context length is {max_model_len} "
            f"tokens and your request has {prompt_tokens} input tokens.",
            param="max_tokens",
        )
    if max_tokens == 0:
        raise RequestError("max_tokens must be at least 1", param="max_tokens")
    if max_tokens is not None and min_tokens > max_tokens:
        raise RequestError("min_tokens must be less than or equal to max_tokens", param="min_tokens")
    if min_tokens and (max_tokens is None or min_tokens < max_tokens):
        return GenerationPlan(prompt_tokens, min_tokens, FinishReason.STOP, max_tokens)
    if max_tokens is not None:
        return GenerationPlan(prompt_tokens, max_tokens, FinishReason.LENGTH, max_tokens)
    if chat:
        return GenerationPlan(prompt_tokens, min(CHAT_NATURAL_LENGTH, room), FinishReason.STOP, None)
    return GenerationPlan(prompt_tokens, min(COMPLETIONS_DEFAULT_MAX_TOKENS, room), FinishReason.LENGTH, None)
