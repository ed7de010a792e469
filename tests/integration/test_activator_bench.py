"""The benchmark runs end to end (quick mode) and reports what `make bench` prints.

Performance targets are not asserted here: a shared CI machine is too noisy for that. The full
run (`python -m serving.activator.bench`) checks them and exits 1 when one is missed.
"""

from __future__ import annotations

import pytest

from serving.activator.bench import markdown, run_benchmark, verdict

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def test_quick_benchmark_compares_direct_and_proxied() -> None:
    result = run_benchmark(["asyncio"], quick=True)
    run = result["runs"]["asyncio"]
    for kind in ("non_streaming", "streaming_16_chunks"):
        assert run[kind]["direct"]["count"] == 1000
        assert run[kind]["activator"]["p50_ms"] > 0
        assert run[kind]["throughput_rps"]["activator"] > 0
        assert run[kind]["errors"] == 0
    streams = run["concurrent_streams"]
    assert streams["activator"]["lost"] == 0
    assert streams["direct"]["lost"] == 0
    assert streams["activator_alive_after"]
    table = markdown(result)
    assert "non_streaming" in table and "concurrent streams" in table
    assert "asyncio: +" in verdict(result)
