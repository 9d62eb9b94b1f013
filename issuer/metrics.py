"""Prometheus metrics (the `prometheus-client` library) and the listener that serves them.

What is measured (no label ever holds personal data: the labels are route templates, HTTP
methods and status codes, AGS numbers of municipalities, permit types, credential
configuration ids, job names, key backends):

    buergerid_http_requests_total{method,route,status}          counter, per process
    buergerid_http_request_duration_seconds{method,route}       histogram, per process
    buergerid_permits_issued_total{tenant,permit_type}          counter, counted at commit
    buergerid_permits_revoked_total{tenant,permit_type}         counter, counted at commit
    buergerid_wallet_credentials_issued_total{tenant,configuration}  counter, at commit
    buergerid_signing_duration_seconds{backend}                 histogram (software, pkcs11)
    buergerid_db_pool_connections_in_use / _size                gauges, summed over live workers
    buergerid_status_list_allocated / _size / _fill_ratio{tenant,list}   from the database
    buergerid_job_runs_total / _failures_total{job}             from the database (every worker)
    buergerid_job_last_success_timestamp_seconds{job}           from the database
    buergerid_plate_index_built_timestamp_seconds{tenant}       from the database

Counters and histograms are per process and add up: with `buergerid-issuer serve --workers N`
prometheus-client's multiprocess mode writes them to memory-mapped files in a private
directory that the serving process makes (mode 0700), empties at start and removes at exit.
The figures read from the database are the same on every instance: aggregate them with
`max`, not `sum`.

Where they are served: only on the listener the operator configures (`metrics_port`, by
default none, on `metrics_host`, by default 127.0.0.1), at `/metrics`; the service's own
port never answers `/metrics`. Nothing here runs at import; `install()` registers the
listeners (commit counting, signing latency) once per process.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import event, select
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from issuer.settings import Settings

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_PATH = "/metrics"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_PENDING = "buergerid.metrics.pending"

HTTP_REQUESTS = Counter(
    "buergerid_http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "buergerid_http_request_duration_seconds",
    "Time from the request's arrival to the end of its answer, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
PERMITS_ISSUED = Counter(
    "buergerid_permits_issued_total",
    "Permits issued (replacements included), counted when the transaction commits.",
    ["tenant", "permit_type"],
)
PERMITS_REVOKED = Counter(
    "buergerid_permits_revoked_total",
    "Permits revoked, counted when the transaction commits.",
    ["tenant", "permit_type"],
)
CREDENTIALS_ISSUED = Counter(
    "buergerid_wallet_credentials_issued_total",
    "Wallet credentials (SD-JWT VCs) issued, counted when the transaction commits.",
    ["tenant", "configuration"],
)
SIGNING_LATENCY = Histogram(
    "buergerid_signing_duration_seconds",
    "Time one signature takes, by key backend (software key file or PKCS#11 token).",
    ["backend"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5),
)
DB_POOL_IN_USE = Gauge(
    "buergerid_db_pool_connections_in_use",
    "Database connections checked out of the pool (summed over the live worker processes).",
    multiprocess_mode="livesum",
)
DB_POOL_SIZE = Gauge(
    "buergerid_db_pool_size",
    "Connections the pools keep open at most without overflow (summed over live workers).",
    multiprocess_mode="livesum",
)


# ------------------------------------------------------------------ events at commit


def count_on_commit(
    session: Session, counter: Counter, labels: tuple[str, ...], n: int = 1
) -> None:
    """Count `n` on `counter` when `session`'s transaction commits (nothing on a rollback)."""
    session.info.setdefault(_PENDING, []).append((counter, labels, n))


def _apply_pending(session: Session) -> None:
    for counter, labels, n in session.info.pop(_PENDING, ()):
        counter.labels(*labels).inc(n)


def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _tenant_ags(session: Session, tenant_id: int | None) -> str | None:
    from issuer.db.models import Tenant

    if tenant_id is None:
        return None
    tenant = session.get(Tenant, tenant_id)  # in the identity map while the request runs
    return None if tenant is None else tenant.ags


def audited(session: Session, *, tenant_id: int | None, action: str, object_id: str) -> None:
    """Called for every audit entry: permit issuance and revocation are counted at commit."""
    if action not in ("permit.issued", "permit.revoked"):
        return
    from issuer.db.permit_models import Permit

    try:
        permit = session.get(Permit, uuid.UUID(object_id))
    except ValueError:
        return
    ags = _tenant_ags(session, tenant_id)
    if permit is None or ags is None:
        return
    counter = PERMITS_ISSUED if action == "permit.issued" else PERMITS_REVOKED
    count_on_commit(session, counter, (ags, permit.permit_type))


def credentials_issued(session: Session, *, tenant_id: int, configuration: str, n: int) -> None:
    """Count `n` wallet credentials of `configuration` for the tenant at commit."""
    ags = _tenant_ags(session, tenant_id)
    if ags is not None:
        count_on_commit(session, CREDENTIALS_ISSUED, (ags, configuration), n)


# ------------------------------------------------------------------ process instruments

_INSTALLED = threading.Lock()
_DONE: list[bool] = []


def _observe_signing(backend: str, seconds: float) -> None:
    SIGNING_LATENCY.labels(backend).observe(seconds)


def install() -> None:
    """Once per process: count at commit, time every signature, forget dead workers."""
    with _INSTALLED:
        if _DONE:
            return
        from keys.signer import add_sign_observer

        event.listen(Session, "after_commit", _apply_pending)
        event.listen(Session, "after_rollback", _drop_pending)
        add_sign_observer(_observe_signing)
        forget_dead_processes()
        _DONE.append(True)


def instrument_engine(engine: Engine) -> None:
    """Track the engine's pool: connections in use and its size."""
    pool: Any = engine.pool
    size = getattr(pool, "size", None)
    if callable(size):
        DB_POOL_SIZE.inc(int(size()))

    def checkout(*_args: Any) -> None:
        DB_POOL_IN_USE.inc()

    def checkin(*_args: Any) -> None:
        DB_POOL_IN_USE.dec()

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)


def uninstrument_engine(engine: Engine) -> None:
    """The engine is disposed: its pool no longer counts."""
    size = getattr(engine.pool, "size", None)
    if callable(size):
        DB_POOL_SIZE.dec(int(size()))


def forget_dead_processes() -> None:
    """In multiprocess mode: drop the live gauges of worker processes that are gone."""
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return
    from prometheus_client import multiprocess

    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        match = re.search(r"_(\d+)\.db$", path)
        if match is None:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
        except PermissionError:
            continue


def route_method(method: str) -> str:
    """The method as a label: the usual ones, else "other" (no caller-made label values)."""
    return method if method in _METHODS else "other"


# ------------------------------------------------------------------ figures from the database


class DatabaseCollector(Collector):
    """Status lists, jobs and plate indexes, read from the database at each scrape."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def _sessions(self) -> Session:
        from issuer.db.session import make_engine

        with self._lock:
            if self._engine is None:
                self._engine = make_engine(
                    self._settings.database_url,
                    busy_timeout_ms=self._settings.sqlite_busy_timeout_ms,
                )
            return Session(self._engine)

    def close(self) -> None:
        """Dispose of the collector's engine."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "buergerid_metrics_database_up", "1 when the figures below could be read."
        )
        try:
            families = self._read()
        except Exception as exc:  # a scrape never fails because the database is away
            log.warning("metrics_database_unreadable", extra={"exc_type": type(exc).__name__})
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, *families]

    def _read(self) -> list[Metric]:
        from issuer.db.job_models import WorkerJob
        from issuer.db.models import Tenant
        from issuer.db.permit_models import PlateIndexRecord, StatusList

        allocated = GaugeMetricFamily(
            "buergerid_status_list_allocated",
            "Indices handed out in a status list.",
            labels=["tenant", "list"],
        )
        size = GaugeMetricFamily(
            "buergerid_status_list_size", "Entries of a status list.", labels=["tenant", "list"]
        )
        fill = GaugeMetricFamily(
            "buergerid_status_list_fill_ratio",
            "Allocated share of a status list (a new list opens at one half).",
            labels=["tenant", "list"],
        )
        runs = CounterMetricFamily(
            "buergerid_job_runs", "Runs of a periodic job, by any worker.", labels=["job"]
        )
        failures = CounterMetricFamily(
            "buergerid_job_failures", "Failed runs of a periodic job.", labels=["job"]
        )
        success = GaugeMetricFamily(
            "buergerid_job_last_success_timestamp_seconds",
            "When a periodic job last succeeded (unix seconds).",
            labels=["job"],
        )
        built = GaugeMetricFamily(
            "buergerid_plate_index_built_timestamp_seconds",
            "When the plate index served to handhelds was built (unix seconds).",
            labels=["tenant"],
        )
        with self._sessions() as session, session.begin():
            for ags, list_no, n, total in session.execute(
                select(Tenant.ags, StatusList.list_no, StatusList.allocated, StatusList.size)
                .join(Tenant, Tenant.id == StatusList.tenant_id)
                .order_by(Tenant.ags, StatusList.list_no)
            ):
                labels = [str(ags), str(list_no)]
                allocated.add_metric(labels, int(n))
                size.add_metric(labels, int(total))
                fill.add_metric(labels, int(n) / int(total) if total else 0.0)
            for job in session.scalars(select(WorkerJob).order_by(WorkerJob.name)):
                runs.add_metric([job.name], job.runs)
                failures.add_metric([job.name], job.failures)
                if job.succeeded_at is not None:
                    success.add_metric([job.name], job.succeeded_at.timestamp())
            for ags, iat in session.execute(
                select(Tenant.ags, PlateIndexRecord.iat).join(
                    Tenant, Tenant.id == PlateIndexRecord.tenant_id
                )
            ):
                built.add_metric([str(ags)], int(iat))
        return [allocated, size, fill, runs, failures, success, built]


# ------------------------------------------------------------------ serving


class _QuietHandler(WSGIRequestHandler):
    """No request lines on stderr (the service logs JSON only)."""

    def log_message(self, format: str, *args: Any) -> None:
        return


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def _wsgi(registry: CollectorRegistry) -> Callable[..., Iterable[bytes]]:
    from prometheus_client import make_wsgi_app

    metrics_app = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != METRICS_PATH:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        return metrics_app(environ, start_response)  # type: ignore[no-any-return]

    return app


def scrape_registry(
    settings: Settings, *, multiprocess_dir: str | None
) -> tuple[CollectorRegistry, DatabaseCollector]:
    """What `/metrics` shows: every worker's files (multiprocess) or this process's own
    metrics, and the figures from the database (the collector, to close it at the end)."""
    if multiprocess_dir is not None:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)  # type: ignore[no-untyped-call]
    else:
        from prometheus_client import REGISTRY

        registry = CollectorRegistry()
        registry.register(_Forward(REGISTRY))
    database = DatabaseCollector(settings)
    registry.register(database)
    return registry, database


class _Forward(Collector):
    """The process's default registry inside another registry."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterable[Metric]:
        return self._source.collect()


@contextlib.contextmanager
def multiprocess_directory(settings: Settings) -> Iterator[str]:
    """The private directory of the workers' metric files, set in the environment before any
    worker starts: `metrics_dir` emptied, or a fresh temporary one removed at the end."""
    configured = settings.metrics_dir
    if configured is not None:
        from keys.storage import make_private_dir

        path = Path(configured)
        make_private_dir(path)
        os.chmod(path, 0o700)
        for old in path.glob("*.db"):
            old.unlink()
        made = False
    else:
        path = Path(tempfile.mkdtemp(prefix="buergerid-metrics-"))  # 0700
        made = True
    os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield str(path)
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        if made:
            shutil.rmtree(path, ignore_errors=True)
        else:
            for old in path.glob("*.db"):
                with contextlib.suppress(OSError):
                    old.unlink()


class MetricsListener:
    """`/metrics` on its own address, in a thread of the serving process."""

    def __init__(self, settings: Settings, *, multiprocess_dir: str | None) -> None:
        assert settings.metrics_port is not None
        registry, self._database = scrape_registry(settings, multiprocess_dir=multiprocess_dir)
        self._server = make_server(
            settings.metrics_host,
            settings.metrics_port,
            _wsgi(registry),
            server_class=_ThreadingServer,
            handler_class=_QuietHandler,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="buergerid-metrics", daemon=True
        )

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.server_address[1])

    def start(self) -> MetricsListener:
        """Serve in the background."""
        self._thread.start()
        log.info(
            "metrics_listening", extra={"host": self._server.server_address[0], "port": self.port}
        )
        return self

    def stop(self) -> None:
        """Stop serving and release the database."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        self._database.close()
