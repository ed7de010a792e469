"""Alerts end to end: emulators driven into each failure mode, a real Prometheus evaluating the
shipped rules (time-scaled 60x from the same source), a real Alertmanager with the shipped routing,
and a loopback sink recording the Slack and PagerDuty payloads.

Every scenario runs on its own Deployment (or idle GPU), all at once; each test waits for its
notifications, then checks routing (critical: PagerDuty and Slack; warning: Slack only), content
(runbook and dashboard links, the values) and, after the faults are cleared, the resolve. Times
from fault to notification are printed at the end (`pytest -s`) and kept in LATENCIES.
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from alerts.config import AlertsConfig
from alerts.durations import Duration
from alerts.render import rule_files
from serving.stack.notification_sink import PAGERDUTY, SLACK, Notification
from serving.stack.ports import LOOPBACK, free_port
from tests.alerts.amconfig import TEST_ROUTING_KEY
from tests.alerts.e2e.load import TRACE, TraceLoad
from tests.alerts.e2e.notifications import Group, pagerduty_summary, slack_text
from tests.alerts.e2e.stack import (
    TIME_SCALE,
    AlertStack,
    Controller,
    controller,
    start_stack,
    wait_for_data,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

FAULT_NODE, FLEET_NODE = "gpu-node-f", "gpu-node-a"
DCGM_NODES = f"{FLEET_NODE}:H100x12,{FAULT_NODE}:H100x5"
REPLICAS = ("quiet", "queue", "slow", "kv", "preempt", "errors", "aborts")
FIRE_TIMEOUT_S = 150.0
RESOLVE_TIMEOUT_S = 150.0


@dataclass(frozen=True)
class Expect:
    group: Group
    description: str  # regex the notification text must contain
    resolves: bool = True

    @property
    def paged(self) -> bool:
        return self.group.severity == "critical"


@dataclass
class Scenario:
    name: str
    expects: tuple[Expect, ...]
    inject: Callable[[AlertStack], None]
    #: None: the condition ends by itself (e.g. the slow pod turns ready).
    clear: Callable[[AlertStack], None] | None = None
    t0: float = 0.0
    cleared_at: float = 0.0
    fired: dict[str, float] = field(default_factory=dict)
    resolved: dict[str, float] = field(default_factory=dict)


def _g(alertname: str, severity: str, where: str) -> Group:
    return Group(alertname, severity, where)


LOADS: dict[str, TraceLoad] = {}
STOP_PREEMPTING = threading.Event()


def _load(stack: AlertStack, deployment: str, concurrency: int = 64) -> None:
    replica = stack.emulator.replica_of(deployment)
    LOADS[deployment] = TraceLoad(replica.url, concurrency=concurrency).start()


def _fault(deployment: str, **faults: Any) -> Callable[[AlertStack], None]:
    def inject(stack: AlertStack) -> None:
        stack.emulator.faults(stack.emulator.replica_of(deployment), **faults)

    return inject


def _loaded_fault(deployment: str, concurrency: int = 64, **faults: Any) -> Callable[[AlertStack], None]:
    def inject(stack: AlertStack) -> None:
        stack.emulator.faults(stack.emulator.replica_of(deployment), **faults)
        _load(stack, deployment, concurrency)

    return inject


def _clear(deployment: str) -> Callable[[AlertStack], None]:
    def clear(stack: AlertStack) -> None:
        stack.emulator.clear_faults(stack.emulator.replica_of(deployment))

    return clear


def _preempt(stack: AlertStack) -> None:
    _load(stack, "preempt")
    replica = stack.emulator.replica_of("preempt")

    def keep_preempting() -> None:
        while not STOP_PREEMPTING.wait(0.5):
            stack.emulator.faults(replica, preempt=2)

    threading.Thread(target=keep_preempting, name="preempt", daemon=True).start()


def _gpu(node: str, gpu: int, **fault: Any) -> Callable[[AlertStack], None]:
    return lambda stack: stack.emulator.gpu_fault(node, gpu, **fault)


def _fb_near_full(stack: AlertStack) -> None:
    quiet = stack.emulator.replica_of("quiet")
    gpu = next(g["gpu"] for g in stack.emulator.gpus(FLEET_NODE) if (g["owner"] or {}).get("pod") == quiet.name)
    stack.emulator.gpu_fault(FLEET_NODE, gpu, fb_near_full=True)


def _blocked(stack: AlertStack) -> None:
    """Start the capacity-starved controller, then pause its replica under load so demand grows."""
    stack.controllers["blocked"].start(stack.workdir)
    wait_until(lambda: _has_replica(stack, "ctl-blocked"), 30, "ctl-blocked replica")
    _loaded_fault("ctl-blocked", concurrency=256, paused=True)(stack)


def _has_replica(stack: AlertStack, deployment: str) -> bool:
    try:
        stack.emulator.replica_of(deployment)
    except KeyError:
        return False
    return True


def _start(name: str) -> Callable[[AlertStack], None]:
    return lambda stack: stack.controllers[name].start(stack.workdir)


def _stop(name: str) -> Callable[[AlertStack], None]:
    return lambda stack: stack.controllers[name].stop()


def where(deployment: str) -> str:
    return f"llm/{deployment}"


NODE = f"node {FAULT_NODE}"
PCT = r"[\d.]+%"
SCENARIOS = [
    Scenario("queue: engine paused under load",
             (Expect(_g("VLLMRequestQueueBacklog", "warning", where("queue")), r"[\d.]+k? requests wait per engine"),),
             _loaded_fault("queue", concurrency=256, paused=True), _clear("queue")),
    Scenario("slow: every engine step 40x slower under load",
             (Expect(_g("VLLMTimeToFirstTokenBudgetBurn", "critical", where("slow")),
                     rf"{PCT} of requests to model .* waited more than 1 s"),),
             _loaded_fault("slow", slowdown=40.0), _clear("slow")),
    Scenario("kv: 97% of the KV cache held",
             (Expect(_g("VLLMKVCacheNearlyFull", "warning", where("kv")), r"uses 9\d(\.\d+)?% of its KV cache"),),
             _fault("kv", kv_fill=0.97), _clear("kv")),
    Scenario("preempt: running requests preempted twice a second",
             (Expect(_g("VLLMPreemptionsRising", "warning", where("preempt")), r"preempts [\d.]+[mk]? requests per second"),),
             _preempt, lambda stack: STOP_PREEMPTING.set()),
    Scenario("errors: half the requests fail",
             (Expect(_g("VLLMRequestErrorRateHigh", "critical", where("errors")), rf"{PCT} of the requests .* ended with an error"),),
             _loaded_fault("errors", error_fraction=0.5), _clear("errors")),
    Scenario("aborts: 60% of the requests aborted after the first token",
             (Expect(_g("VLLMRequestAbortRateHigh", "warning", where("aborts")), rf"{PCT} of the requests .* were aborted"),),
             _loaded_fault("aborts", abort_fraction=0.6), _clear("aborts")),
    Scenario("xid: XID 79 on an idle GPU",
             (Expect(_g("GPUXidError", "critical", NODE), r"reported XID 79"),),
             _gpu(FAULT_NODE, 0, xid=79), lambda stack: stack.emulator.clear_gpu_faults(FAULT_NODE)),
    Scenario("xid 13: an application fault on another idle GPU notifies, does not page",
             (Expect(_g("GPUXidError", "warning", NODE), r"reported XID 13"),),
             _gpu(FAULT_NODE, 4, xid=13), lambda stack: stack.emulator.clear_gpu_faults(FAULT_NODE)),
    Scenario("temperature: an idle GPU at 95 C",
             (Expect(_g("GPUTemperatureHigh", "critical", NODE), r"is at 9\d(\.\d+)? °C"),),
             _gpu(FAULT_NODE, 1, temperature_c=95), lambda stack: stack.emulator.clear_gpu_faults(FAULT_NODE)),
    Scenario("row remap: a GPU failed to remap a row",
             (Expect(_g("GPURowRemapFailure", "critical", NODE), r"could not remap a memory row"),),
             _gpu(FAULT_NODE, 2, row_remap_failure=True), lambda stack: stack.emulator.clear_gpu_faults(FAULT_NODE)),
    Scenario("ecc: two rows remapped after uncorrectable errors",
             (Expect(_g("GPUUncorrectableMemoryErrors", "warning", NODE), r"remapped [\d.]+ memory rows"),),
             _gpu(FAULT_NODE, 3, uncorrectable_remapped_rows=2), lambda stack: stack.emulator.clear_gpu_faults(FAULT_NODE)),
    Scenario("framebuffer: a serving GPU nearly out of memory",
             (Expect(_g("GPUFramebufferMemoryHigh", "warning", where("quiet")), r"uses 9\d(\.\d+)?% of its framebuffer"),),
             _fb_near_full, lambda stack: stack.emulator.clear_gpu_faults(FLEET_NODE)),
    Scenario("idle: a Deployment with no traffic holds its GPU",
             (Expect(_g("GPUAllocatedButIdle", "warning", where("quiet")), rf"were {PCT} busy", resolves=False),),
             lambda stack: None),
    Scenario("metrics missing: the controller sees a ready pod whose /metrics fails",
             (Expect(_g("VLLMMetricsMissing", "critical", where("ctl-blind")), r"has 1 ready replicas but Prometheus holds no vLLM"),),
             _fault("ctl-blind", metrics="error"), _clear("ctl-blind")),
    Scenario("maxed out: at maxReplicas with a paused engine and growing queue",
             (Expect(_g("TokenscaleMaxedOutQueueGrowing", "warning", where("ctl-maxed")), r"runs at its maximum of 1 replicas"),),
             _loaded_fault("ctl-maxed", concurrency=1024, paused=True), _clear("ctl-maxed")),
    Scenario("telemetry: pods hold 2 GPUs each, only 1 reports",
             (Expect(_g("GPUTelemetryMissing", "warning", where("ctl-gpus")), r"1 of the GPUs that Kubernetes allocates"),),
             _start("gpus"), _stop("gpus")),
    Scenario("start-up: pods take 45 s to become ready",
             (Expect(_g("VLLMStartupSlow", "warning", where("ctl-slowstart")), r"1 pods of llm/ctl-slowstart have been running"),
              Expect(_g("VLLMReplicasBelowDesired", "critical", where("ctl-slowstart")), r"None of the 1 desired replicas")),
             _start("slowstart")),
    Scenario("blocked: demand for 3 replicas, GPUs for 1",
             (Expect(_g("TokenscaleScaleUpBlockedUnschedulable", "warning", where("ctl-blocked")),
                     r"held [\d.]+ scale-ups in the last 5s because pods it already asked for are unschedulable"),),
             _blocked, _stop("blocked")),
    Scenario("Prometheus unreachable: a controller pointed at a dead port",
             (Expect(_g("TokenscalePrometheusUnreachable", "critical", ""), r"Prometheus queries have failed"),),
             _start("promdown"), _stop("promdown")),
]  # fmt: skip


def declare_controllers(prometheus_url: str, admin_url: str) -> dict[str, Controller]:
    dead = f"http://{LOOPBACK}:{free_port()}"
    return {
        "main": controller("main", prometheus_url, ["ctl-blind:1:1", "ctl-maxed:1:1"], admin_url),
        "gpus": controller("gpus", prometheus_url, ["ctl-gpus:1:1:2"], admin_url),
        "slowstart": controller("slowstart", prometheus_url, ["ctl-slowstart:1:1"], admin_url, ready_delay_s=45),
        "promdown": controller("promdown", dead, ["ctl-nowhere:1:1"]),
        # GPUs for one pod only: the second one the autoscaler asks for stays unschedulable.
        "blocked": controller("blocked", prometheus_url, ["ctl-blocked:1:3"], admin_url, gpu_capacity=1),
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertStack]:
    assert TRACE.exists(), f"trace {TRACE} missing (vendored in tests/data/traces, or set TOKENSCALE_TRACES)"
    workdir = tmp_path_factory.mktemp("alerts-e2e")
    stack = start_stack(workdir, DCGM_NODES, REPLICAS, declare_controllers, start_controllers=("main",))
    try:
        wait_for_data(stack, replicas=len(REPLICAS) + 2)
        yield stack
    finally:
        STOP_PREEMPTING.set()
        for load in LOADS.values():
            load.stop(timeout_s=5)
        stack.stop()


@pytest.fixture(scope="module")
def injected(stack: AlertStack) -> list[Scenario]:
    for scenario in SCENARIOS:
        scenario.t0 = time.time()
        scenario.inject(stack)
    return SCENARIOS


def _for_seconds(alertname: str, severity: str) -> float:
    """The scaled `for:` of the rule, to tell pipeline delay from deliberate waiting."""
    for text in rule_files(AlertsConfig().scaled(TIME_SCALE)).values():
        for group in yaml.safe_load(text)["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == alertname and rule["labels"]["severity"] == severity:
                    return float(Duration.parse(rule["for"]).seconds)
    raise KeyError(alertname)


def _key(group: Group) -> str:
    return f"{group.alertname} ({group.severity})"


def _check_content(n: Notification, expect: Expect) -> None:
    anchor = f"runbooks.md#{expect.group.alertname.lower()}"
    if n.service == SLACK:
        text = slack_text(n)
        assert n.payload["channel"] == "#tokenscale-alerts"
        assert f"{anchor}|Runbook>" in text, text
        assert "/d/tokenscale-" in text and "|Dashboard>" in text, text
        assert re.search(expect.description, text), f"{expect.description!r} not in {text!r}"
        assert f"http://{LOOPBACK}:" in text, "the Query link points at the loopback Prometheus"
    else:
        body = n.payload
        assert body["routing_key"] == TEST_ROUTING_KEY, "routing key read from the file"
        assert body["payload"]["severity"] == "critical"
        assert any(link["href"].endswith(anchor) for link in body["links"]), body["links"]
        details = str(body["payload"]["custom_details"])
        assert re.search(expect.description, details), f"{expect.description!r} not in {details!r}"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name.split(":")[0])
def test_fault_notifies_the_right_people(stack: AlertStack, injected: list[Scenario], scenario: Scenario) -> None:
    del injected
    for expect in scenario.expects:
        group = expect.group
        slack = stack.sink.wait_for(group.slack(), timeout_s=max(1.0, scenario.t0 + FIRE_TIMEOUT_S - time.time()))
        _check_content(slack, expect)
        scenario.fired[_key(group)] = slack.received_at - scenario.t0
        if expect.paged:
            page = stack.sink.wait_for(group.pagerduty(), timeout_s=10)
            _check_content(page, expect)
        else:
            time.sleep(1.5)  # a page would arrive with the Slack message (same group_wait)
            paged = group.pagerduty()
            pages = [n for n in stack.sink.received(PAGERDUTY) if paged(n)]
            assert not pages, f"a warning paged: {[pagerduty_summary(p) for p in pages]}"


def test_inhibited_alerts_fire_but_notify_nobody(stack: AlertStack, injected: list[Scenario]) -> None:
    """Slow steps also raise inter-token latency (a warning), muted by the TTFT page for the same
    Deployment; the hot GPU's warning is muted by its own critical; causes mute their symptoms."""
    del injected
    muted = [
        ("VLLMInterTokenLatencyHigh", {"deployment": "slow", "severity": "warning"}, _g("VLLMInterTokenLatencyHigh", "warning", where("slow"))),
        ("GPUTemperatureHigh", {"hostname": FAULT_NODE, "gpu": "1", "severity": "warning"}, _g("GPUTemperatureHigh", "warning", NODE)),
        # The blind Deployment's holds are explained by its missing metrics (a page).
        ("TokenscaleDecisionsHeldStaleMetrics", {"deployment": "ctl-blind"}, _g("TokenscaleDecisionsHeldStaleMetrics", "warning", where("ctl-blind"))),
        # The controller without Prometheus completes no good tick; the unreachable page explains it.
        ("TokenscaleControllerNotTicking", {"job": "tokenscale-promdown"}, _g("TokenscaleControllerNotTicking", "critical", "")),
    ]  # fmt: skip
    for alertname, labels, group in muted:

        def firing_and_inhibited(name: str = alertname, match: dict[str, str] = labels) -> bool:
            alert = stack.am_alert(name, **match)
            return alert is not None and bool(alert["status"]["inhibitedBy"])

        wait_until(firing_and_inhibited, 90, f"{alertname} {labels} reaches Alertmanager inhibited")
        assert not [n for n in stack.sink.received(SLACK) if group.slack()(n)], f"{alertname} was notified"


def _after(match: Callable[[Notification], bool], since: float) -> Callable[[Notification], bool]:
    return lambda n: match(n) and n.received_at > since


def test_clearing_the_faults_resolves_the_alerts(stack: AlertStack, injected: list[Scenario]) -> None:
    # Load first: a replayer that fell behind its schedule would keep the queue full after the
    # fault is gone, and that is not what the resolve time should measure.
    STOP_PREEMPTING.set()
    for load in LOADS.values():
        load.stop(timeout_s=30)
    for scenario in injected:
        scenario.cleared_at = time.time() if scenario.clear is not None else scenario.t0
        if scenario.clear is not None:
            scenario.clear(stack)
    missing = []
    for scenario in injected:
        for expect in scenario.expects:
            if not expect.resolves:
                continue
            group = expect.group
            # Some alerts end before the clear (a one-off event ages out of its window): match the
            # resolve that follows the group's last firing message, and time it only after the clear.
            last_fired = max(n.received_at for n in stack.sink.received(SLACK) if group.slack()(n))
            timeout = max(1.0, scenario.cleared_at + RESOLVE_TIMEOUT_S - time.time())
            try:
                resolved = stack.sink.wait_for(_after(group.slack(resolved=True), last_fired), timeout_s=timeout)
            except TimeoutError:
                missing.append(f"{scenario.name}: {group.alertname}")
                continue
            assert "*Resolved*" in slack_text(resolved)
            if scenario.clear is not None and resolved.received_at >= scenario.cleared_at:
                scenario.resolved[_key(group)] = resolved.received_at - scenario.cleared_at
            if expect.paged:
                stack.sink.wait_for(_after(group.pagerduty(resolved=True), last_fired), timeout_s=10)
    assert not missing, f"never resolved: {missing}"


def test_controller_down_pages(stack: AlertStack) -> None:
    stopped_at = time.time()
    for c in stack.controllers.values():
        c.stop()
    group = _g("TokenscaleControllerDown", "critical", "")
    slack = stack.sink.wait_for(lambda n: group.slack()(n) and n.received_at > stopped_at, timeout_s=60)
    page = stack.sink.wait_for(lambda n: group.pagerduty()(n) and n.received_at > stopped_at, timeout_s=10)
    assert "#tokenscalecontrollerdown" in slack_text(slack) and page.payload["payload"]["severity"] == "critical"
    LATENCIES[_key(group)] = (slack.received_at - stopped_at, _for_seconds(group.alertname, "critical"))


LATENCIES: dict[str, tuple[float, float]] = {}


def test_report_condition_to_notification_times(injected: list[Scenario]) -> None:
    for scenario in injected:
        for expect in scenario.expects:
            key = _key(expect.group)
            if key in scenario.fired:
                LATENCIES[key] = (scenario.fired[key], _for_seconds(expect.group.alertname, expect.group.severity))
    assert LATENCIES, "no scenario fired"
    lines = [f"{'alert':50} {'fault->notify':>13} {'for: (scaled)':>13} {'overhead':>9} {'resolve':>8}"]
    resolves = {n: s for sc in injected for n, s in sc.resolved.items()}
    for name, (total, hold) in sorted(LATENCIES.items(), key=lambda kv: kv[1][0]):
        resolve = f"{resolves[name]:.1f}" if name in resolves else "-"
        lines.append(f"{name:50} {total:13.1f} {hold:13.0f} {total - hold:9.1f} {resolve:>8}")
    totals = [t for t, _ in LATENCIES.values()]
    overheads = [t - h for t, h in LATENCIES.values()]
    lines.append(
        f"fault->notification p50 {statistics.median(totals):.1f} s, max {max(totals):.1f} s; "
        f"beyond for: p50 {statistics.median(overheads):.1f} s, max {max(overheads):.1f} s"
    )
    if resolves:
        lines.append(
            f"clear->resolved p50 {statistics.median(resolves.values()):.1f} s, max {max(resolves.values()):.1f} s"
        )
    print("\n" + "\n".join(lines))
