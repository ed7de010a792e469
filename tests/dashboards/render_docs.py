"""Regenerate the README's dashboard previews: `python -m tests.dashboards.render_docs`.

Starts the emulated fleet, the controller and Prometheus (tests/dashboards/stack.py), replays the
shared Azure traces (conversation for `chat`, code completion for `code`) for `--minutes`, then
draws every dashboard over the replay with `dashboards.preview`. Takes the replay length plus
about half a minute; the PNGs go to docs/img/dashboards/ by default.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from dashboards.preview import Window, preview_dashboard
from dashboards.preview.client import PrometheusClient
from dashboards.registry import DASHBOARDS
from dashboards.render import dashboard_json
from tests.dashboards.stack import REPO, replay_traces, start_fleet, wait_until_at_zero, wait_until_scraped

OUT = REPO / "docs" / "img" / "dashboards"
TRACES = {"chat": "azure2023_conv.csv", "code": "azure2023_code.csv"}
# Model detail shows one Deployment, as on-call would open it from an alert.
OVERRIDES = {"tokenscale-model": {"deployment": "chat"}}


def _stop_on_term(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.dashboards.render_docs", description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--minutes", type=float, default=8.0, help="replay length (wall clock)")
    parser.add_argument("--rate-multiplier", type=float, default=4.0)
    parser.add_argument("--scrape-interval", type=int, default=15, help="Grafana datasource scrape interval (s)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_term)  # so the finally below stops every server
    workdir = Path(tempfile.mkdtemp(prefix="tokenscale-docs-"))
    stack = start_fleet(workdir)
    ok = False
    try:
        wait_until_scraped(stack)
        wait_until_at_zero(stack, "code")
        start = time.time()
        summaries = replay_traces(stack, TRACES, args.minutes * 60, args.rate_multiplier)
        # End the pictures when the last request arrived: "now" panels then show live traffic, not
        # the drain of the replay's last requests.
        end = start + args.minutes * 60
        client = PrometheusClient(stack.prometheus.url)
        note = f"emulated fleet replaying Azure LLM traces 2023 (conversation, code) x{args.rate_multiplier:g}"
        window = Window(end=end, range_s=int(end - start) + 30, scrape_interval_s=args.scrape_interval)
        for source in DASHBOARDS:
            board = dashboard_json(source.build())
            path, _ = preview_dashboard(
                client, board, window, args.out / f"{source.uid}.png", OVERRIDES.get(source.uid), note
            )
            print(path)
        replayed = {
            name: {"requests": s.requests, "ok": s.ok, "wall_s": round(s.wall_s)} for name, s in summaries.items()
        }
        print(json.dumps({"rate_multiplier": args.rate_multiplier, "replayed": replayed, "traces": TRACES}))
        ok = True
    finally:
        stack.stop()
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"logs of the failed run: {workdir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
