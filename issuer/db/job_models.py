"""The periodic jobs' shared state (`buergerid-issuer worker`, issuer/worker/): one row per job.

`next_due_at` says when the job is next due (the start of its next period after a success, a
backoff after a failure); the lease columns are the lock on SQLite (on PostgreSQL an advisory
lock is taken instead). Counts and times only, no personal data.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from issuer.db.base import Base, UTCDateTime


class WorkerJob(Base):
    """One periodic job: when it is due, who holds it, how its runs went."""

    __tablename__ = "worker_jobs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(64))
    failures_in_row: Mapped[int] = mapped_column(Integer, default=0)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
