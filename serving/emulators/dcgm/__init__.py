"""Emulated dcgm-exporter 4.5.3-4.8.2 nodes whose GPUs follow the emulated vLLM replicas."""

from __future__ import annotations

from serving.emulators.dcgm.cli import add_arguments, main, run

__all__ = ["add_arguments", "main", "run"]
