from __future__ import annotations

from serving.emulators.vllm.cli import main

raise SystemExit(main())
