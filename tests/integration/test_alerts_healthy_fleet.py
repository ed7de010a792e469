"""No alert fires on a healthy fleet replaying a shared trace for several minutes.

Two Deployments under the real controller (in-memory cluster, emulator replicas, DCGM node), the
Azure 2023 conversation trace replayed through the emulator's load balancer, the shipped rules at
60x speed (four minutes here are four hours of rule time) and the shipped routing. After a warm-up
(a fleet coming up has no data yet, which the data-missing alerts are right to notice), Prometheus
must hold no firing alert and the sink must receive nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from serving.stack.notification_sink import NotificationSink
from tests.alerts.e2e.load import TRACE, TraceLoad
from tests.alerts.e2e.stack import AlertStack, Controller, controller, start_stack, wait_for_data

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

REPLAY_S = 240.0
SETTLE_S = 20.0
POLL_S = 5.0


def declare(prometheus_url: str, admin_url: str) -> dict[str, Controller]:
    return {"fleet": controller("fleet", prometheus_url, ["chat:1:3", "code:1:3"], admin_url)}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertStack]:
    assert TRACE.exists(), f"trace {TRACE} missing (vendored in tests/data/traces, or set TOKENSCALE_TRACES)"
    workdir = tmp_path_factory.mktemp("alerts-healthy")
    stack = start_stack(workdir, "gpu-node-a:H100x8", (), declare, start_controllers=("fleet",))
    try:
        wait_for_data(stack, replicas=2)
        yield stack
    finally:
        stack.stop()


def _firing(stack: AlertStack) -> list[str]:
    return sorted(
        f"{a.get('alertname')}({a.get('severity')}) {a.get('namespace', '')}/{a.get('deployment', '')}"
        for a in stack.firing_alerts()
    )


def _received_since(sink: NotificationSink, since: float) -> list[str]:
    return [str(n.payload)[:200] for n in sink.received() if n.received_at >= since]


def test_no_alert_fires_while_a_healthy_fleet_replays_a_trace(stack: AlertStack) -> None:
    # Past the trace's first minutes: arrivals near its mean rate (about 5 requests/s).
    load = TraceLoad(stack.emulator.service_url, start_s=600, duration_s=REPLAY_S + SETTLE_S, concurrency=128)
    load.start()
    try:
        time.sleep(SETTLE_S)
        watch_from = time.time()
        seen: dict[str, float] = {}
        polls = 0
        while time.time() - watch_from < REPLAY_S:
            for alert in _firing(stack):
                seen.setdefault(alert, time.time() - watch_from)
            polls += 1
            time.sleep(POLL_S)
    finally:
        load.stop(timeout_s=30)
    ok = [o for o in load.outcomes if o.status == 200 and o.error is None]
    assert polls >= REPLAY_S / POLL_S - 2
    assert len(ok) > 500, f"only {len(ok)} requests served; the fleet was not exercised"
    assert len(ok) >= 0.99 * len(load.outcomes), "requests failed on a healthy fleet"
    served = stack.query('sum(namespace_deployment_model:vllm_request_success:rate5m{namespace="llm"})')
    assert served, "recording rules saw no traffic"
    assert not seen, f"alerts fired on a healthy fleet (seconds into the watch): {seen}"
    assert not _received_since(stack.sink, watch_from), "notifications were sent for a healthy fleet"
