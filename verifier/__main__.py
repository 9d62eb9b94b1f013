"""``python -m verifier``: the same as ``buergerid-verify``."""

from __future__ import annotations

from verifier.cli import main

raise SystemExit(main())
