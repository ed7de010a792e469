"""`python -m dashboards.preview --prometheus URL --out DIR`: draw every dashboard as a PNG."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from dashboards.preview import render_previews

_DURATION = re.compile(r"^(\d+)([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_s(text: str) -> int:
    match = _DURATION.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected a duration such as 30m or 1h, got {text!r}")
    return int(match.group(1)) * _SECONDS[match.group(2)]


def variable(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}")
    return name, value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.preview", description=__doc__)
    parser.add_argument("--prometheus", required=True, help="Prometheus base URL, e.g. http://127.0.0.1:9090")
    parser.add_argument("--out", type=Path, required=True, help="directory for the PNGs")
    parser.add_argument("--range", dest="range_s", type=duration_s, default=3600, help="time range (default 1h)")
    parser.add_argument("--end", type=float, default=None, help="end of the range, Unix seconds (default now)")
    parser.add_argument(
        "--scrape-interval", type=duration_s, default=15, help="the datasource's scrape interval (default 15s)"
    )
    parser.add_argument("--var", type=variable, action="append", default=[], help="template variable name=value")
    parser.add_argument("--dashboard", action="append", default=[], help="only this UID (repeatable)")
    args = parser.parse_args(argv)
    written = render_previews(
        args.prometheus,
        args.out,
        end=args.end,
        range_s=args.range_s,
        scrape_interval_s=args.scrape_interval,
        overrides=dict(args.var),
        uids=tuple(args.dashboard),
    )
    for path in written:
        print(path)
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
