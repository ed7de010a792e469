"""Produce the README's sample cost and drift reports from an emulated run (about 6 minutes).

    python -m tests.samples.cost_and_drift_run --out docs/img

One Deployment `chat` (Llama-3.1-8B on H100, the vLLM emulator at real speed) behind the real
activator; the controller's exporter (driven as in tests/integration/test_cost_report.py) holds
its GPUs; a real Prometheus scrapes both. Timeline: a 10 s cold start, conversation traffic
(azure2023_conv at x2) on one replica, a second replica after 90 s, code traffic (azure2023_code at
x4) for a minute, idle on one replica, then zero. Then `tokenscale report cost` and `tokenscale
drift` (conversation minutes as reference, code minute as current) write their outputs to --out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from metrics.cost import cli as cost_cli
from metrics.drift import cli as drift_cli
from serving.emulators.replay import ReplayOptions, load_trace, replay
from serving.stack.ports import free_port
from serving.stack.process import start_process
from serving.stack.prometheus import PrometheusConfig, ScrapeJob, start_prometheus
from serving.stack.shared_data import traces_dir
from tests.integration.controller_exporter import DrivenExporter, serve

TRACES = traces_dir()
NS, DEPLOYMENT, MODEL = "llm", "chat", "llama-3.1-8b"


def admin(service: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{service}{path}", data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def run(out: Path, work: Path) -> None:
    ready_file, records = work / "ready.json", work / "records"
    emulator = start_process(
        "vllm-emulator",
        [sys.executable, "-m", "serving.emulators.vllm", "--replicas", "0", "--served-model-name", MODEL,
         "--namespace", NS, "--deployment", DEPLOYMENT, "--max-model-len", "16384",
         "--file-sd", str(work / "sd.json"), "--ready-file", str(ready_file)],
        work / "emulator.log",
    )  # fmt: skip
    exporter = DrivenExporter(NS, DEPLOYMENT, "H100", 6.88)
    with contextlib.ExitStack() as stack:
        stack.callback(emulator.stop)
        stack.callback(exporter.close)
        emulator.wait_until(ready_file.exists, 30, "emulator")
        service = json.loads(ready_file.read_text())["service_url"]
        target = stack.enter_context(serve(exporter))
        prometheus = start_prometheus(
            PrometheusConfig(
                jobs=[
                    ScrapeJob(name="vllm", file_sd_path=work / "sd.json"),
                    ScrapeJob(name="tokenscale", targets=[target], honor_labels=True),
                ],
                scrape_interval="1s",
            ),
            workdir=work / "prom",
        )
        stack.callback(prometheus.stop)
        port = free_port()
        activator = start_process(
            "activator",
            [sys.executable, "-m", "serving.activator", "--upstream", service, "--deployment", DEPLOYMENT,
             "--namespace", NS, "--endpoints", "upstream-health", "--wake-lease", "none",
             "--bind-address", f"127.0.0.1:{port}", "--metrics-bind-address", f"127.0.0.1:{free_port()}",
             "--records-dir", str(records)],
            work / "activator.log",
        )  # fmt: skip
        stack.callback(activator.stop)
        activator.wait_until(lambda: ready(f"http://127.0.0.1:{port}/readyz"), 20, "activator")
        prometheus.wait_for_series("tokenscale_gpus_allocated", timeout_s=30)
        time.sleep(20)  # some history at zero before the first replica
        options = ReplayOptions(target_url=f"http://127.0.0.1:{port}", stream=True, concurrency=256, model=MODEL)
        conv = load_trace(TRACES / "azure2023_conv.csv", rate_multiplier=2, duration_s=360)
        code = load_trace(TRACES / "azure2023_code.csv", rate_multiplier=4, start_s=60, duration_s=240)

        start = exporter.set_gpus(1, replicas=1, ready=0)
        name0 = f"{DEPLOYMENT}-0"
        admin(
            service,
            "/admin/replicas",
            {"name": name0, "labels": {"namespace": NS, "deployment": DEPLOYMENT}, "startup_s": 10},
        )

        def scale_up() -> None:
            time.sleep(10)
            exporter.set_gpus(1, replicas=1, ready=1)
            time.sleep(90)
            exporter.set_gpus(2, replicas=2, ready=1)
            admin(
                service,
                "/admin/replicas",
                {"name": f"{DEPLOYMENT}-1", "labels": {"namespace": NS, "deployment": DEPLOYMENT}, "startup_s": 10},
            )
            time.sleep(10)
            exporter.set_gpus(2, replicas=2, ready=2)

        helper = threading.Thread(target=scale_up)
        helper.start()
        summary = asyncio.run(replay(conv, options))  # held by the activator during the cold start
        print(f"conversation: {summary.ok}/{summary.requests} ok", file=sys.stderr)
        helper.join()
        switched = time.time()
        summary = asyncio.run(replay(code, options))
        print(f"code: {summary.ok}/{summary.requests} ok", file=sys.stderr)
        code_end = time.time() + 1
        admin_delete(service, f"{DEPLOYMENT}-1")
        exporter.set_gpus(1, replicas=1, ready=1)
        time.sleep(40)
        admin_delete(service, name0)
        exporter.set_gpus(0, replicas=0, ready=0)
        time.sleep(40)
        end = time.time()
        time.sleep(2)

        out.mkdir(parents=True, exist_ok=True)
        window = ["--prometheus", prometheus.url, "--until", f"{end:.0f}", "--since", f"{end - start + 30:.0f}s",
                  "--step", "5s", "--buckets", "24", "--no-progress"]  # fmt: skip
        with (out / "cost-report.txt").open("w") as handle, contextlib.redirect_stdout(handle):
            cost_cli.main(cost_cli.build_parser().parse_args([*window, "--plot", str(out / "cost-report.png")]))
        with (out / "cost-report.json").open("w") as handle, contextlib.redirect_stdout(handle):
            cost_cli.main(cost_cli.build_parser().parse_args([*window, "--format", "json"]))
        drift_out = work / "drift"
        drift_argv = [
            "--records-dir", str(records), "--out", str(drift_out), "--plot", str(out / "drift-report.png"),
            "--reference", f"window:{start:.3f}..{switched:.3f}", "--current", f"window:{switched:.3f}..{code_end:.3f}",
        ]  # fmt: skip
        with (out / "drift-report.txt").open("w") as handle, contextlib.redirect_stdout(handle):
            drift_cli.main(drift_cli.build_parser().parse_args(drift_argv))
        for path in drift_out.rglob("*.html"):
            shutil.copy(path, out / "drift-report.html")
            shutil.copy(path.with_suffix(".json"), out / "drift-report.json")


def admin_delete(service: str, name: str) -> None:
    request = urllib.request.Request(f"{service}/admin/replicas/{name}?drain=1", method="DELETE")
    with urllib.request.urlopen(request, timeout=60):
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--work", type=Path, default=None, help="scratch directory (default: a temp dir)")
    args = parser.parse_args()
    import tempfile

    work = args.work or Path(tempfile.mkdtemp(prefix="tokenscale-samples-"))
    run(args.out, work)
    print(f"samples in {args.out}, scratch in {work}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
