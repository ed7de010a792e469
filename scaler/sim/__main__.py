"""`python -m scaler.sim ...`: the simulate command on its own."""

from __future__ import annotations

import sys

from scaler.sim.cli import run

sys.exit(run())
