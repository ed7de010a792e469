"""Emulators that stand in for GPUs in tests and the demo: vLLM replicas, dcgm-exporter, a trace replayer."""
