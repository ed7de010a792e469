"""The activator: a request-holding reverse proxy in front of one vLLM Deployment's Service.

It speaks the OpenAI API by passing it through (SSE streams byte for byte), holds requests while
the target has no ready endpoint, wakes the controller through a Lease, exports demand metrics
that exist at zero and records per-request numbers for drift reports. See docs/activator.md.

Modules, low to high: config, release (pure ramp), gate (hold queue), endpoints / endpointslices
(readiness sources), wake (Lease), metrics, usage (token counting), records, responses, proxy,
server (wiring and drain), cli. bench* measure it.
"""

from __future__ import annotations

from serving.activator.cli import main, run
from serving.activator.config import add_arguments

__all__ = ["add_arguments", "main", "run"]
