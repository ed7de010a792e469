"""Generate the committed alerting files: `python -m alerts.build [--check] [--out-dir DIR] ...`.

Without options it rewrites alerts/generated/ and alerts/alertmanager/*.yaml from the Python
source. `--check` writes nothing and exits 1 when a committed file differs from what the source
generates (CI and `make generate` keep them equal). The other options render a customised copy
for your cluster into --out-dir.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from alerts.config import AlertsConfig
from alerts.outputs import outputs
from alerts.routing import RoutingConfig

PACKAGE_DIR = Path(__file__).resolve().parent


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m alerts.build", description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 if the files on disk differ; write nothing")
    p.add_argument("--out-dir", type=Path, default=PACKAGE_DIR, help="where generated/ and alertmanager/ go")
    p.add_argument("--release-label", help="value of the PrometheusRule's `release` label (kube-prometheus-stack)")
    p.add_argument("--runbook-url-pattern", help="runbook URL with {anchor} (lower-cased alert name)")
    p.add_argument("--grafana-url", help="Grafana base URL for dashboard links, no trailing slash")
    p.add_argument("--time-scale", type=float, default=1.0, help="multiply every window and for: (test variants)")
    return p


def config_from(args: argparse.Namespace) -> AlertsConfig:
    cfg = AlertsConfig()
    if args.release_label:
        labels = tuple((k, v) for k, v in cfg.prometheus_rule_labels if k != "release")
        cfg = replace(cfg, prometheus_rule_labels=(*labels, ("release", args.release_label)))
    if args.runbook_url_pattern:
        cfg = replace(cfg, runbook_url_pattern=args.runbook_url_pattern)
    if args.grafana_url:
        cfg = replace(cfg, grafana_url=args.grafana_url)
    if args.time_scale != 1.0:
        cfg = cfg.scaled(args.time_scale)
    return cfg


def drift(files: dict[str, str], out_dir: Path) -> list[str]:
    """Unified diffs of every file that differs from (or is missing in) out_dir."""
    diffs: list[str] = []
    for rel, text in sorted(files.items()):
        path = out_dir / rel
        current = path.read_text() if path.exists() else ""
        if current != text:
            diff = difflib.unified_diff(
                current.splitlines(keepends=True),
                text.splitlines(keepends=True),
                f"{rel} (on disk)",
                f"{rel} (generated)",
            )
            diffs.append("".join(diff) or f"{rel}: missing\n")
    return diffs


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    files = outputs(config_from(args), RoutingConfig())
    if args.check:
        diffs = drift(files, args.out_dir)
        for d in diffs:
            sys.stdout.write(d)
        if diffs:
            print(f"{len(diffs)} generated file(s) out of date: run `make generate` (python -m alerts.build)")
            return 1
        print(f"{len(files)} generated files up to date")
        return 0
    for rel, text in files.items():
        path = args.out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
