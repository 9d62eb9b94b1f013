"""Storage backends behind one signer interface; `make_private_dir` makes directories for
secrets (mode 0700 whatever the umask)."""

from __future__ import annotations

from keys.storage._atomic import make_private_dir

__all__ = ["make_private_dir"]
