"""SQLite: the transactions of one engine queue in the process before `BEGIN IMMEDIATE`
(issuer/db/session.py); the queue is left on every way a transaction ends."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from issuer.db.session import make_engine


@pytest.fixture
def engine(tmp_path: Path) -> Any:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}", busy_timeout_ms=2000)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    yield engine
    engine.dispose()


def _queue(engine: Engine) -> threading.Lock:
    with engine.connect() as conn:
        writers: threading.Lock = conn.connection.dbapi_connection.writers  # type: ignore[union-attr]
        return writers


def test_a_transaction_holds_the_queue_until_it_commits(engine: Engine) -> None:
    queue = _queue(engine)
    with Session(engine) as session, session.begin():
        session.execute(text("INSERT INTO t VALUES (1)"))
        assert queue.locked()
    assert not queue.locked()
    with Session(engine) as session:
        assert session.scalar(text("SELECT count(*) FROM t")) == 1
    assert not queue.locked()  # a read's transaction ended with the session


def test_the_queue_is_left_on_rollback_error_and_invalidation(engine: Engine) -> None:
    queue = _queue(engine)
    with pytest.raises(RuntimeError), Session(engine) as session, session.begin():
        session.execute(text("INSERT INTO t VALUES (1)"))
        raise RuntimeError("rolled back")
    assert not queue.locked()
    with pytest.raises(OperationalError), Session(engine) as session, session.begin():
        session.execute(text("INSERT INTO no_such_table VALUES (1)"))
    assert not queue.locked()
    conn = engine.connect()
    conn.execute(text("INSERT INTO t VALUES (2)"))
    assert queue.locked()
    conn.invalidate()  # the DBAPI connection is closed, its transaction gone
    conn.close()
    assert not queue.locked()
    with Session(engine) as session:
        assert session.scalar(text("SELECT count(*) FROM t")) == 0


def test_transactions_of_many_threads_all_commit(engine: Engine) -> None:
    def write(n: int) -> None:
        for i in range(20):
            with Session(engine) as session, session.begin():
                session.execute(text("INSERT INTO t VALUES (:x)"), {"x": n * 100 + i})

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with Session(engine) as session:
        assert session.scalar(text("SELECT count(DISTINCT x) FROM t")) == 120
    assert not _queue(engine).locked()
