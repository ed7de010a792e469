"""The `tokenscale` command: the controller, and the tools around it.

Subcommands that pull heavy libraries (evidently, matplotlib, aiohttp) import them only when they
run, so `tokenscale run` starts fast and stays small.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from scaler.spec import KIND, SpecError, parse_spec

#: Delegated subcommands: words -> module. The module offers add_arguments(parser) and main(...).
DELEGATES: dict[tuple[str, ...], str] = {
    ("emulate", "vllm"): "serving.emulators.vllm.cli",
    ("emulate", "dcgm"): "serving.emulators.dcgm.cli",
    ("replay",): "serving.emulators.replay",
    ("activator",): "serving.activator.cli",
    ("simulate",): "scaler.sim.cli",
    ("report", "cost"): "metrics.cost.cli",
    ("drift",): "metrics.drift.cli",
    ("demo",): "scaler.demo.cli",
    ("bench",): "scaler.bench.cli",
}


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    for noisy in ("apscheduler", "urllib3", "kubernetes"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    # urllib3 logs every connection retry as a warning (three per request while the API server is
    # away); the watch caches and the loop report the outage once, in words, so keep its errors only.
    logging.getLogger("urllib3.connectionpool").setLevel(max(logging.ERROR, logging.getLogger().level))


def _run_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prometheus-url", required=True, help="e.g. http://prometheus-operated.monitoring.svc:9090")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between ticks (default 5)")
    parser.add_argument("--shadow", action="store_true", help="decide and publish, never write /scale")
    parser.add_argument("--namespace", action="append", default=[], help="watch only these namespaces (repeat)")
    parser.add_argument("--kubeconfig", type=Path, default=None, help="default: in-cluster, then $KUBECONFIG")
    parser.add_argument("--metrics-bind-address", default="127.0.0.1:8080", help="/metrics /healthz /readyz")
    parser.add_argument("--leader-elect", action="store_true", help="run several replicas; one acts")
    parser.add_argument("--lease-name", default="tokenscale-controller")
    parser.add_argument("--lease-namespace", default="", help="default: $POD_NAMESPACE")
    parser.add_argument("--attribution", default="label", help="label (PodMonitor adds `deployment`) or pod-name")
    parser.add_argument("--rate-window", default="1m", help="window of rate() in controller queries")
    parser.add_argument("--vllm-matchers", default=None, help='extra label matchers for vLLM series, e.g. job="vllm"')
    parser.add_argument("--prometheus-timeout", type=float, default=5.0, help="seconds per query")
    parser.add_argument("--prometheus-bearer-token-file", type=Path, default=None)
    parser.add_argument("--prices", type=Path, default=None, help="price file (GPU and namespace overrides)")


def _cmd_run(args: argparse.Namespace) -> int:
    from scaler.run import Runner, RunOptions, layout_from_flags

    try:
        options = RunOptions(
            prometheus_url=args.prometheus_url,
            interval_s=args.interval,
            shadow=args.shadow,
            namespaces=tuple(args.namespace),
            kubeconfig=args.kubeconfig,
            metrics_bind_address=args.metrics_bind_address,
            leader_elect=args.leader_elect,
            lease_name=args.lease_name,
            lease_namespace=args.lease_namespace,
            layout=layout_from_flags(args.attribution, args.rate_window, args.vllm_matchers),
            prometheus_timeout_s=args.prometheus_timeout,
            prometheus_bearer_token_file=args.prometheus_bearer_token_file,
            prices_file=args.prices,
        )
        runner = Runner(options)
    except ValueError as exc:
        print(f"tokenscale run: {exc}", file=sys.stderr)
        return 2
    return runner.run_forever()


def _cmd_validate(args: argparse.Namespace) -> int:
    """Check InferenceAutoscaler manifests offline, naming every bad field and value."""
    failures = 0
    for path in args.files:
        try:
            documents = list(yaml.safe_load_all(Path(path).read_text()))
        except (OSError, yaml.YAMLError) as exc:
            print(f"{path}: cannot read: {exc}")
            failures += 1
            continue
        for doc in documents:
            if not isinstance(doc, dict) or doc.get("kind") != KIND:
                continue
            name = (doc.get("metadata") or {}).get("name", "?")
            try:
                parse_spec(doc.get("spec"))
                print(f"{path}: {KIND} {name}: valid")
            except SpecError as exc:
                failures += 1
                for error in exc.errors:
                    print(f"{path}: {KIND} {name}: {error}")
    return 1 if failures else 0


def _cmd_version(_: argparse.Namespace) -> int:
    from importlib.metadata import PackageNotFoundError, version

    try:
        print(version("tokenscale"))
    except PackageNotFoundError:
        print("unknown (not installed)")
    return 0


def _delegate(words: tuple[str, ...], module_name: str, argv: Sequence[str]) -> int:
    module = importlib.import_module(module_name)
    main: Callable[..., Any] = module.main
    params = list(inspect.signature(main).parameters.values())
    takes_namespace = bool(params) and params[0].annotation in ("argparse.Namespace", argparse.Namespace)
    if takes_namespace and hasattr(module, "add_arguments"):
        parser = argparse.ArgumentParser(prog=f"tokenscale {' '.join(words)}")
        module.add_arguments(parser)
        return int(main(parser.parse_args(list(argv))) or 0)
    return int(main(list(argv)) or 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokenscale", description="Autoscaling and observability controller for vLLM on Kubernetes."
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--log-format", default="text", choices=["text", "json"])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="run the controller")
    _run_parser(run)
    run.set_defaults(func=_cmd_run)
    validate = sub.add_parser("validate", help="check InferenceAutoscaler manifests offline")
    validate.add_argument("files", nargs="+")
    validate.set_defaults(func=_cmd_validate)
    sub.add_parser("version", help="print the version").set_defaults(func=_cmd_version)
    helps = {
        "emulate": "vLLM and dcgm-exporter emulators (emulate vllm | emulate dcgm)",
        "replay": "replay a request trace against an OpenAI endpoint",
        "activator": "the request-holding proxy for scale-from-zero",
        "simulate": "simulate a fleet on a trace under a policy",
        "report": "reports from Prometheus history (report cost)",
        "drift": "drift reports on request features (drift | drift serve)",
        "demo": "run the whole stack locally on a real trace and write a report",
        "bench": "benchmarks: controller tick, activator, simulator",
    }
    for word, text in helps.items():
        sub.add_parser(word, help=text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # Delegated commands parse their own flags; find the longest matching word sequence.
    globals_, rest = [], list(argv)
    while rest and rest[0].startswith("--log-"):
        globals_.append(rest.pop(0))
        if "=" not in globals_[-1] and rest:
            globals_.append(rest.pop(0))
    for words, module_name in sorted(DELEGATES.items(), key=lambda kv: -len(kv[0])):
        if tuple(rest[: len(words)]) == words:
            top = parser.parse_args(globals_)
            setup_logging(top.log_level, top.log_format)
            return _delegate(words, module_name, rest[len(words) :])
    if rest[:1] in (["emulate"], ["report"]):
        parser.error(f"{rest[0]}: expected one of " + ", ".join(" ".join(w) for w in DELEGATES if w[0] == rest[0]))
    args = parser.parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
