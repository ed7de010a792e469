from __future__ import annotations

from serving.emulators.dcgm.cli import main

raise SystemExit(main())
