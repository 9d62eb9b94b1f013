"""Engine and session factory, one per app (never at import).

SQLite: WAL, foreign keys on, a busy timeout, and `BEGIN IMMEDIATE` for every transaction so
two writers queue on the database lock instead of failing an upgrade from reader to writer;
the transactions of one engine queue in the process first (`_QueuedConnection`).
The database file is made mode 0600 (its directory 0700) before SQLite opens it, whatever the
umask; SQLite gives its `-wal` and `-shm` files the mode of the database file.
PostgreSQL: psycopg 3 (`postgresql+psycopg://`), READ COMMITTED.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from keys.storage import make_private_dir

PRIVATE_FILE_MODE = 0o600


def normalize_url(url: str) -> str:
    """Pin the driver: plain `postgresql://` means psycopg 3."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def is_sqlite(url: str) -> bool:
    """True for a SQLite database URL."""
    return make_url(normalize_url(url)).get_backend_name() == "sqlite"


def make_engine(url: str, *, busy_timeout_ms: int = 10_000, echo: bool = False) -> Engine:
    """An engine for `url` with the per-backend settings of this module's docstring."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, echo=echo, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        _private_database_file(Path(parsed.database))
    writers = threading.Lock()
    engine = create_engine(
        url,
        echo=echo,
        connect_args={
            "check_same_thread": False,
            "timeout": busy_timeout_ms / 1000,
            "factory": _QueuedConnection,
        },
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.writers = writers
        # SQLAlchemy docs, "Serializable isolation / Savepoints / Transactional DDL":
        # let us emit BEGIN ourselves.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        dbapi_conn = conn.connection.dbapi_connection
        dbapi_conn.queue_for_write(busy_timeout_ms / 1000)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            dbapi_conn.leave_queue()
            raise

    return engine


class _QueuedConnection(sqlite3.Connection):
    """A SQLite connection whose transactions queue in this process before `BEGIN IMMEDIATE`.

    Every transaction takes the database's write lock. Waiting for it in SQLite's busy
    handler means sleeping 1, 2, 5, 10 … 100 ms between tries, so a lock released meanwhile
    is taken up late and the database stands idle: with many requests at once the issuer
    wrote fewer permits per second than with one. Transactions of one engine wait for each
    other on a lock here instead and start the moment the last one ended; other processes
    still meet the busy handler. After the busy timeout a transaction stops waiting here
    and meets SQLite's lock as before (its busy handler then decides)."""

    writers: threading.Lock | None = None
    _queued = False

    def queue_for_write(self, timeout: float) -> None:
        """Wait (at most `timeout` seconds) until no other transaction of this engine runs."""
        if self.writers is not None and not self._queued:
            self._queued = self.writers.acquire(timeout=timeout)

    def leave_queue(self) -> None:
        """Let the next transaction of this engine begin (once per `queue_for_write`)."""
        if self._queued:
            self._queued = False
            assert self.writers is not None
            self.writers.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.leave_queue()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.leave_queue()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.leave_queue()


def _private_database_file(path: Path) -> None:
    """Create the SQLite file 0600 (in a 0700 directory when we make it); an existing database
    and its -wal/-shm files lose any group or world access (they hold personal data)."""
    make_private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    except FileExistsError:
        pass
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = file.stat().st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISREG(mode) and stat.S_IMODE(mode) & 0o077:
            os.chmod(file, PRIVATE_FILE_MODE)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (routes map them to schemas)."""
    return sessionmaker(engine, expire_on_commit=False, autoflush=True)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session in one transaction: commit on success, roll back on any exception."""
    with factory() as session, session.begin():
        yield session
