"""`python -m serving.activator ...`, the same as `tokenscale activator ...`."""

from __future__ import annotations

import sys

from serving.activator.cli import build_parser, main

sys.exit(main(build_parser().parse_args()))
