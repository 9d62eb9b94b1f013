"""One runner at a time per job, across worker processes and machines.

- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) on a connection of its
  own, keyed by the job's name. Never waits: a job another worker holds is skipped. A worker
  that dies loses its connection, and the lock with it, at once.
- SQLite (one machine): a lease in the job's row, taken by a conditional UPDATE under
  SQLite's write lock; a lease left by a dead worker ends after `LEASE_SECONDS`.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import func, or_, select, update

from issuer.db.job_models import WorkerJob
from issuer.db.session import is_sqlite, transaction

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine
    from sqlalchemy.orm import Session, sessionmaker

LEASE_SECONDS = 30 * 60


class JobLock(Protocol):
    """Exclusive, non-blocking hold on one job."""

    def acquire(self, name: str, now: datetime) -> bool:
        """True when this runner now holds `name`; False when another one does."""
        ...

    def release(self, name: str) -> None:
        """Let go of `name` (held by this runner)."""
        ...


def advisory_key(name: str) -> int:
    """A signed 64-bit advisory lock key for a job name."""
    digest = hashlib.sha256(b"buergerid/worker-job/" + name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLock:
    """PostgreSQL advisory locks, one connection per held job (autocommit: no transaction
    stays open while the job runs)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._held: dict[str, Connection] = {}
        self._mutex = threading.Lock()

    def acquire(self, name: str, now: datetime) -> bool:
        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = bool(conn.execute(select(func.pg_try_advisory_lock(advisory_key(name)))).scalar())
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        with self._mutex:
            self._held[name] = conn
        return True

    def release(self, name: str) -> None:
        with self._mutex:
            conn = self._held.pop(name, None)
        if conn is None:
            return
        try:
            conn.execute(select(func.pg_advisory_unlock(advisory_key(name))))
        finally:
            conn.close()  # closing the session ends the lock in any case


class LeaseLock:
    """A lease in `worker_jobs` (owner, until), for SQLite."""

    def __init__(self, sessions: sessionmaker[Session], owner: str) -> None:
        self._sessions = sessions
        self._owner = owner

    def acquire(self, name: str, now: datetime) -> bool:
        with transaction(self._sessions) as session:
            result = session.execute(
                update(WorkerJob)
                .where(
                    WorkerJob.name == name,
                    or_(WorkerJob.lease_until.is_(None), WorkerJob.lease_until <= now),
                )
                .values(lease_owner=self._owner, lease_until=now + timedelta(seconds=LEASE_SECONDS))
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]

    def release(self, name: str) -> None:
        with transaction(self._sessions) as session:
            session.execute(
                update(WorkerJob)
                .where(WorkerJob.name == name, WorkerJob.lease_owner == self._owner)
                .values(lease_owner=None, lease_until=None)
                .execution_options(synchronize_session=False)
            )


def lock_for(engine: Engine, sessions: sessionmaker[Session], owner: str) -> JobLock:
    """The lock that suits the database behind `engine`."""
    if is_sqlite(str(engine.url)):
        return LeaseLock(sessions, owner)
    return AdvisoryLock(engine)
