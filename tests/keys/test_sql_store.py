"""Key rings in the database (keys/storage/sql.py), on SQLite and PostgreSQL: every ring
operation, no lost update between threads or processes, the encrypted key files stored as
they are on disk, and the version check that keeps signing free of queries."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, select

from keys.errors import KeyRingError, KeysCode
from keys.lifecycle import KeyState, RotationPolicy
from keys.ring import KeyRing, RingKind
from keys.storage.file import MAGIC, decrypt_private_key
from keys.storage.sql import SqlRingStore, connect, key_ring_blobs, key_rings
from tests.keys.conftest import CHEAP_KDF, T0
from verifier.formats import verify_signature

PASS = "ring passphrase"
DAY = 86_400
POLICY = RotationPolicy(fresh_seconds=DAY, max_token_seconds=30 * DAY, sign_seconds=90 * DAY)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    made = connect(db_url)
    try:
        yield made
    finally:
        made.dispose()


def _ring(engine: Engine | Connection, name: str = "05513000", **kw: Any) -> KeyRing:
    return KeyRing.create(
        SqlRingStore(engine).ring(name), name, passphrase=PASS, kdf=CHEAP_KDF, **kw
    )


def _open(engine: Engine, name: str = "05513000", **kw: Any) -> KeyRing:
    return KeyRing.open(SqlRingStore(engine).ring(name), passphrase=PASS, kdf=CHEAP_KDF, **kw)


def _add(ring: KeyRing, nbf: int = T0) -> str:
    return ring.add_key(nbf=nbf, sign_until=nbf + 90 * DAY, exp=nbf + 120 * DAY).kid


def test_create_add_sign_and_what_the_database_holds(engine: Engine) -> None:
    ring = _ring(engine, name="ring a")
    kid = _add(ring)
    again = _open(engine, name="ring a")
    signer = again.signer_for(T0, "BEW")
    assert signer.jws_kid == kid and again.location == "database:ring a"
    verify_signature(signer.public_key, signer.alg, b"m", signer.sign(b"m"))
    with engine.connect() as conn:
        row = conn.execute(select(key_rings).where(key_rings.c.name == "ring a")).one()
        blobs = conn.execute(select(key_ring_blobs.c.name, key_ring_blobs.c.data)).all()
    doc = json.loads(row.metadata)
    assert row.issuer_id == "ring a" and doc["keys"][0]["kid"] == kid and row.version == 2
    assert [b.name for b in blobs] == [f"{kid}.key"]
    data = bytes(blobs[0].data)
    assert data.startswith(MAGIC)  # the key file format, encrypted under the passphrase
    assert decrypt_private_key(data, PASS).public_key() is not None
    with pytest.raises(KeyRingError) as info:
        _ring(engine, name="ring a")
    assert info.value.code is KeysCode.RING_EXISTS
    with pytest.raises(KeyRingError) as info:
        _open(engine, name="missing")
    assert info.value.code is KeysCode.RING_NOT_FOUND
    assert SqlRingStore(engine).names() == ["ring a"]


def test_rotate_withdraw_and_bundle_seq(engine: Engine) -> None:
    ring = _ring(engine)
    first = _add(ring)
    at = T0 + 80 * DAY
    new = ring.rotate(at, POLICY)
    assert new is not None and new.state is KeyState.PENDING
    assert ring.rotate(at, POLICY) is None  # a successor is published already
    other = _open(engine)  # another process's view
    assert {k.kid for k in other.records(at)} == {first, new.kid}
    other.withdraw(first, at)
    with pytest.raises(KeyRingError) as info:
        ring.signer_for(at, "BEW")  # seen here at once: recheck_seconds is 0
    assert info.value.code is KeysCode.NO_ACTIVE_KEY
    root = _ring(engine, name="root", kind=RingKind.ROOT)
    assert [root.next_bundle_seq() for _ in range(3)] == [1, 2, 3]
    assert root.next_bundle_seq(10) == 10
    with pytest.raises(KeyRingError) as info:
        _open(engine, name="root").next_bundle_seq(10)
    assert info.value.code is KeysCode.SEQ_NOT_INCREASING


def test_concurrent_mutations_from_threads_lose_nothing(db_url: str) -> None:
    engines = [connect(db_url) for _ in range(4)]  # one pool each, as separate processes
    try:
        _ring(engines[0])
        _add(_open(engines[0]))
        rings = [_open(e) for e in engines]
        barrier = threading.Barrier(len(rings))
        errors: list[BaseException] = []

        def work(ring: KeyRing) -> None:
            try:
                barrier.wait()
                ring.rotate(T0 + 80 * DAY, POLICY)  # one of them rotates, the others see it
                _add(ring, nbf=T0 + DAY)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(r,)) for r in rings]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        records = _open(engines[0]).records(T0)
        assert len(records) == 1 + 1 + len(rings)  # the first, one successor, one add each
    finally:
        for e in engines:
            e.dispose()


ADDER = """
import sys
from keys.ring import KeyRing
from keys.storage.file import KdfParams
from keys.storage.sql import SqlRingStore, connect
engine = connect(sys.argv[1])
ring = KeyRing.open(SqlRingStore(engine).ring("05513000"), passphrase="ring passphrase",
                    kdf=KdfParams(time_cost=1, memory_kib=8, parallelism=1))
for n in range(int(sys.argv[2])):
    ring.add_key(nbf=1_800_000_000 + n, sign_until=1_800_000_000 + 10**6, exp=1_800_000_000 + 10**7)
print(len(ring.records(1_800_000_000)))
"""


def test_two_processes_adding_keys_lose_no_update(engine: Engine, db_url: str) -> None:
    _ring(engine)
    each = 6
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", ADDER, db_url, str(each)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    assert len(_open(engine).records(T0)) == 2 * each
    with engine.connect() as conn:
        version = conn.scalar(select(key_rings.c.version))
        blobs = conn.execute(select(key_ring_blobs.c.name)).all()
    assert version == 1 + 2 * each and len(blobs) == 2 * each


def test_signing_asks_the_database_nothing_between_version_checks(engine: Engine) -> None:
    _ring(engine)
    kid = _add(_open(engine))
    ring = _open(engine, recheck_seconds=3600.0)
    assert ring.signer_for(T0, "BEW").jws_kid == kid  # loads the key file once
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(200):
            ring.signer_for(T0, "BEW").sign(b"permit")
        assert statements == []
        other = _open(engine)  # another process rotates
        new = other.rotate(T0 + 80 * DAY, POLICY)
        assert new is not None
        statements.clear()
        assert new.kid not in {k.kid for k in ring.records(T0)}  # within the interval: cached
        assert statements == []
        ring.refresh(3)  # the publication cache saw version 3: the next read is fresh
        assert new.kid in {k.kid for k in ring.records(T0)}
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_the_version_is_checked_again_once_the_interval_passed(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    bound = 1.0
    now = [100.0]
    monkeypatch.setattr("keys.ring.time", SimpleNamespace(monotonic=lambda: now[0]))
    _ring(engine)
    _add(_open(engine))
    ring = _open(engine, recheck_seconds=bound)
    ring.records(T0)
    new = _open(engine).rotate(T0 + 80 * DAY, POLICY, force=True)
    assert new is not None
    now[0] += bound - 0.01
    assert new.kid not in {k.kid for k in ring.records(T0)}
    now[0] += 0.01
    assert new.kid in {k.kid for k in ring.records(T0)}


def test_a_rotation_by_another_process_is_seen_here(engine: Engine, db_url: str) -> None:
    _ring(engine)
    _add(_open(engine))
    ring = _open(engine, recheck_seconds=0.2)
    before = {k.kid for k in ring.records(T0)}
    done = subprocess.run(
        [sys.executable, "-c", ADDER, db_url, "1"], capture_output=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen: set[str] = before
    deadline = time.monotonic() + 10.0  # polls until the ring shows it; far above the bound
    while seen == before and time.monotonic() < deadline:
        seen = {k.kid for k in ring.records(T0)}
        if seen == before:
            threading.Event().wait(0.02)
    assert len(seen) == len(before) + 1


def test_a_ring_made_in_the_callers_transaction_goes_with_its_rollback(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.begin()
        ring = _ring(conn)
        _add(ring)
        assert SqlRingStore(conn).names() == ["05513000"]
        conn.rollback()
    assert SqlRingStore(engine).names() == []


def test_removing_a_ring_takes_its_key_blobs(engine: Engine) -> None:
    _add(_ring(engine, name="a"))
    _add(_ring(engine, name="b"))
    store = SqlRingStore(engine)
    store.remove("a")
    assert store.names() == ["b"] and store.count_blobs() == 1


@pytest.mark.parametrize("name", ["", "x" * 201, "bad\nname"])
def test_ring_names_are_bounded(engine: Engine, name: str) -> None:
    with pytest.raises(KeyRingError) as info:
        SqlRingStore(engine).ring(name)
    assert info.value.code is KeysCode.BAD_INPUT


def test_the_tables_match_the_migration(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from keys.storage.sql import metadata

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)

    def table_of(change: Any) -> str:
        item = change[0] if isinstance(change, list) else change
        part = item[1] if item[1] is not None else item[2]
        if isinstance(part, str):  # modify_*: (op, schema, table, ...)
            return item[2] if len(item) > 2 and isinstance(item[2], str) else part
        return str(getattr(getattr(part, "table", part), "name", ""))

    tables = ("key_rings", "key_ring_blobs", "key_directories", "key_directory_files")
    ours = [d for d in diff if table_of(d) in tables]
    assert ours == []
    assert set(tables) <= set(metadata.tables)
