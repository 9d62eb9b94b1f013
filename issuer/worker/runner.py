"""Runs each job once per period, however many workers run (`buergerid-issuer worker`).

A job is due when its row's `next_due_at` has come (or it never ran). The runner takes the
job's lock (issuer/worker/locks.py), reads the row again, runs the job, and records the run
in the same row: after a success the job is next due at the start of its next period (periods
are whole multiples of the interval since the epoch, the same for every worker), after a
failure after a backoff (30 s, doubling, at most the interval). Each run that changed
something appends one `job.<name>` entry with its counts to the operator's audit chain.
A failure is logged as `job_failed` with the job, the codes and the tenants' AGS, never an
exception's text.

Time is a value: the runner asks its `Clock` (tests move a FixedClock); only the wait
between two rounds of the loop is real time, and a stop request ends it at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING, Literal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from issuer.db.job_models import WorkerJob
from issuer.db.session import is_sqlite, make_engine, make_session_factory, transaction
from issuer.services import audit
from issuer.services.clock import Clock, SystemClock
from issuer.services.signing import KeyStore
from issuer.worker import jobs as catalogue
from issuer.worker.locks import JobLock, lock_for

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from issuer.settings import Settings

log = logging.getLogger(__name__)

BACKOFF_SECONDS = 30
MAX_WAIT_SECONDS = 60.0
Status = Literal["ok", "failed", "not_due", "busy"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one job in one round."""

    job: str
    status: Status
    counts: dict[str, int]
    errors: tuple[dict[str, str], ...] = ()


def period_end(now: datetime, interval: int) -> datetime:
    """The start of the period after the one `now` is in."""
    at = int(now.timestamp())
    return datetime.fromtimestamp((at // interval + 1) * interval, UTC)


def backoff(failures_in_row: int, interval: int) -> int:
    """Seconds to wait after the n-th failure in a row: 30, 60, 120, … at most `interval`."""
    return int(min(interval, BACKOFF_SECONDS * 2 ** min(max(failures_in_row - 1, 0), 20)))


def _due(row: WorkerJob | None, now: datetime) -> bool:
    return row is None or row.next_due_at is None or now >= row.next_due_at


class Runner:
    """The jobs of one worker process, against one database."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        engine: Engine | None = None,
        jobs: Sequence[catalogue.Job] = catalogue.JOBS,
        owner: str | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self._own_engine = engine is None
        self.engine = engine or make_engine(
            settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms
        )
        self.sessions: sessionmaker[Session] = make_session_factory(self.engine)
        self.keys = KeyStore(settings, engine=self.engine)
        self.jobs = tuple(jobs)
        self.owner = owner or f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lock: JobLock = lock_for(self.engine, self.sessions, self.owner)
        self._rows_made = False

    def close(self) -> None:
        """Release the database (when the runner made its engine)."""
        if self._own_engine:
            self.engine.dispose()
        self.keys.close()

    # -------------------------------------------------------------- state rows

    def _ensure_rows(self) -> None:
        if self._rows_made:
            return
        values = [
            {"name": job.name, "failures_in_row": 0, "runs": 0, "failures": 0} for job in self.jobs
        ]
        insert = sqlite_insert if is_sqlite(str(self.engine.url)) else pg_insert
        with transaction(self.sessions) as session:
            session.execute(insert(WorkerJob).values(values).on_conflict_do_nothing())
        self._rows_made = True

    def _row(self, name: str) -> WorkerJob | None:
        with transaction(self.sessions) as session:
            return session.get(WorkerJob, name)

    # -------------------------------------------------------------- running

    def run_due(self) -> list[Outcome]:
        """Run every due job once, in order; jobs another worker holds are skipped."""
        self._ensure_rows()
        return [self.run_job(job) for job in self.jobs]

    def run_job(self, job: catalogue.Job) -> Outcome:
        """Run `job` if it is due and nobody else runs it."""
        now = self.clock.now()
        if not _due(self._row(job.name), now):
            return Outcome(job.name, "not_due", {})
        if not self.lock.acquire(job.name, now):
            return Outcome(job.name, "busy", {})
        try:
            if not _due(self._row(job.name), now):  # someone ran it just before we held it
                return Outcome(job.name, "not_due", {})
            return self._run_held(job, now)
        finally:
            self.lock.release(job.name)

    def _run_held(self, job: catalogue.Job, now: datetime) -> Outcome:
        interval = catalogue.interval_of(job, self.settings)
        started = time.perf_counter()
        context = catalogue.JobContext(
            settings=self.settings, keys=self.keys, sessions=self.sessions, now=now
        )
        try:
            result = job.run(context)
        except Exception as exc:  # recorded and retried; the loop goes on
            result = catalogue.JobResult(errors=[{"code": catalogue.error_code(exc)}])
        ok = not result.errors
        with transaction(self.sessions) as session:
            row = session.get(WorkerJob, job.name, with_for_update=True)
            assert row is not None
            row.runs += 1
            row.started_at = now
            if ok:
                row.succeeded_at = now
                row.failures_in_row = 0
                row.last_error = None
                row.next_due_at = period_end(now, interval)
            else:
                row.failed_at = now
                row.failures += 1
                row.failures_in_row += 1
                row.last_error = result.errors[0].get("code", "")[:64]
                row.next_due_at = now + timedelta(seconds=backoff(row.failures_in_row, interval))
            retry_in = int((row.next_due_at - now).total_seconds())
            if any(result.counts.values()):
                audit.record(
                    session,
                    tenant_id=None,
                    actor=catalogue.ACTOR,
                    action=f"job.{job.name}",
                    object_type="job",
                    object_id=job.name,
                    reason=" ".join(f"{k}={v}" for k, v in sorted(result.counts.items())),
                    now=now,
                )
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        # the period this run belongs to (unix seconds of its start): one run per period
        period = int(period_end(now, interval).timestamp()) - interval
        if ok:
            log.info(
                "job_done",
                extra={
                    "job": job.name,
                    "period": period,
                    "duration_ms": duration_ms,
                    **_prefixed(result.counts),
                },
            )
            return Outcome(job.name, "ok", result.counts)
        log.error(
            "job_failed",
            extra={
                "job": job.name,
                "period": period,
                "duration_ms": duration_ms,
                "errors": ",".join(_describe(e) for e in result.errors[:20]),
                "retry_in_s": retry_in,
            },
        )
        return Outcome(job.name, "failed", result.counts, tuple(result.errors))

    def seconds_to_next(self) -> float:
        """Real seconds until the next job is due (between 1 s and MAX_WAIT_SECONDS)."""
        now = self.clock.now()
        with transaction(self.sessions) as session:
            dues = session.scalars(
                select(WorkerJob.next_due_at).where(WorkerJob.name.in_([j.name for j in self.jobs]))
            ).all()
        waits = [0.0 if d is None else (d - now).total_seconds() for d in dues] or [0.0]
        return max(1.0, min(MAX_WAIT_SECONDS, min(waits)))

    def run_forever(self, stop: threading.Event) -> None:
        """Rounds of `run_due` until `stop` is set; a round that fails is logged and retried."""
        log.info("worker_started", extra={"jobs": len(self.jobs)})
        while not stop.is_set():
            wait = MAX_WAIT_SECONDS
            try:
                self.run_due()
                wait = self.seconds_to_next()
            except Exception as exc:  # the database away: try again later
                log.error("worker_round_failed", extra={"code": catalogue.error_code(exc)})
            stop.wait(wait)
        log.info("worker_stopped")


def _prefixed(counts: dict[str, int]) -> dict[str, int]:
    return {f"n_{k}": v for k, v in counts.items()}


def _describe(error: dict[str, str]) -> str:
    return ":".join(v for v in (error.get("tenant"), error.get("code")) if v)


def once(settings: Settings, names: list[str] | None = None) -> list[Outcome]:
    """`buergerid-issuer worker --once`: each due job (of `names`, default all) once."""
    runner = Runner(settings, jobs=catalogue.select_jobs(names))
    try:
        return runner.run_due()
    finally:
        runner.close()


def forever(settings: Settings, names: list[str] | None = None) -> None:
    """`buergerid-issuer worker`: rounds until SIGTERM or SIGINT."""
    runner = Runner(settings, jobs=catalogue.select_jobs(names))
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        runner.run_forever(stop)
    finally:
        runner.close()


@contextlib.contextmanager
def in_background(settings: Settings, *, clock: Clock | None = None) -> Iterator[Runner]:
    """Development (`make run`, `buergerid-issuer dev`): the jobs in a thread of this process,
    stopped when the block ends."""
    runner = Runner(settings, clock=clock)
    stop = threading.Event()
    thread = threading.Thread(
        target=runner.run_forever, args=(stop,), name="buergerid-jobs", daemon=True
    )
    thread.start()
    try:
        yield runner
    finally:
        stop.set()
        thread.join(timeout=30)
        runner.close()
