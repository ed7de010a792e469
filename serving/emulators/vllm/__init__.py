"""Emulated vLLM 0.33 replicas: OpenAI endpoints, real-time engine model, vLLM's /metrics."""

from __future__ import annotations

from serving.emulators.vllm.cli import add_arguments, main, run, start_fleet

__all__ = ["add_arguments", "main", "run", "start_fleet"]
