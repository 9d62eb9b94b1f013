"""Python's garbage collector in a long-running process: what the process keeps for its
whole life is left out of collections.

A server holds, once it has started, some 240,000 objects that live as long as it does:
modules, the app, its routes and schemas, the database metadata, caches. Left in the
collector's generations, every full collection walks them all: about 150 ms on a 2-core
machine, during which no request in flight goes on. `frozen()` moves the objects held at
its start out of the collections (`gc.freeze`) until it ends; what the process makes later
is collected as before, so a full collection walks only that (about 14 ms in the same
process). Servers hold it for their lifespan, jobs of many batches while they run.

Holders nest and overlap (an issuer and a wallet app in one process, a job in a server):
the first freezes, the last to end unfreezes. A later holder freezes nothing more, so
garbage alive at its start is never kept until the process ends. A process that froze
objects itself (before forking workers, say) keeps its freeze.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
_froze = False  # whether the first holder froze (else the process had frozen itself)


@contextmanager
def frozen() -> Iterator[None]:
    """While the block runs, the objects held at the first holder's start are frozen."""
    global _holders, _froze
    with _lock:
        if _holders == 0:
            _froze = gc.get_freeze_count() == 0
            if _froze:
                gc.freeze()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _froze:
                gc.unfreeze()
