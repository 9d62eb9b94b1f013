"""Audit chain: append, listing, concurrent appends, tampering found by verify."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from issuer.db.models import AuditEntry, AuditHead
from issuer.services import audit, status_lists
from issuer.services.clock import FixedClock
from tests.support.db import ApiClientFactory


def _append(app: FastAPI, tenant_id: int, n: int, clock: FixedClock) -> None:
    with app.state.session_factory() as s, s.begin():
        for i in range(n):
            audit.record(
                s,
                tenant_id=tenant_id,
                actor="k1",
                action="thing_changed",
                object_type="thing",
                object_id=str(i),
                reason="because" if i % 2 else None,
                now=clock.now() + timedelta(seconds=i),
            )


def test_chain_links_entries(app: FastAPI, api_client: ApiClientFactory, clock: FixedClock) -> None:
    tid = api_client().tenant_id
    assert tid is not None
    _append(app, tid, 5, clock)
    with app.state.session_factory() as s:
        rows = audit.list_entries(s, tenant_id=tid, limit=100)
        assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
        for prev, cur in itertools.pairwise(rows):
            assert cur.prev_hash == prev.hash
        assert rows[0].prev_hash == audit.GENESIS_HASH
        assert audit.verify_chains(s) == []


def test_concurrent_appends_keep_one_chain(
    app: FastAPI, api_client: ApiClientFactory, clock: FixedClock
) -> None:
    tid = api_client().tenant_id
    assert tid is not None
    threads = [threading.Thread(target=_append, args=(app, tid, 5, clock)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with app.state.session_factory() as s:
        seqs = list(
            s.scalars(select(AuditEntry.seq).where(AuditEntry.chain == audit.chain_for(tid)))
        )
        assert sorted(seqs) == list(range(1, len(seqs) + 1))
        assert len(seqs) >= 20
        assert audit.verify_chains(s) == []


def test_appends_after_the_lock_and_a_rolled_back_savepoint_keep_one_chain(
    app: FastAPI, api_client: ApiClientFactory, clock: FixedClock
) -> None:
    """The head read with the tenant lock serves the next append; an append inside a
    savepoint that is rolled back leaves that note stale, and the next append still chains
    from the head the database holds."""
    tid = api_client().tenant_id
    assert tid is not None
    _append(app, tid, 2, clock)
    chain = audit.chain_for(tid)

    def record(s: Session, object_id: str) -> None:
        audit.record(
            s,
            tenant_id=tid,
            actor="k1",
            action="thing_changed",
            object_type="thing",
            object_id=object_id,
            now=clock.now(),
        )

    with app.state.session_factory() as s, s.begin():
        status_lists.lock_tenant(s, tid)
        record(s, "kept-1")
        savepoint = s.begin_nested()
        record(s, "dropped")
        savepoint.rollback()
        record(s, "kept-2")
        record(s, "kept-3")
    with app.state.session_factory() as s:
        rows = audit.list_entries(s, tenant_id=tid, limit=100)
        assert [r.object_id for r in rows[-4:]] == ["1", "kept-1", "kept-2", "kept-3"]
        assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
        head = s.get(AuditHead, chain)
        assert head is not None and (head.seq, head.hash) == (len(rows), rows[-1].hash)
        assert audit.verify_chains(s, chain=chain) == []


def test_verify_finds_a_changed_row(
    app: FastAPI, api_client: ApiClientFactory, clock: FixedClock
) -> None:
    tid = api_client().tenant_id
    assert tid is not None
    _append(app, tid, 5, clock)
    chain = audit.chain_for(tid)
    with app.state.session_factory() as s, s.begin():
        s.execute(
            update(AuditEntry)
            .where(AuditEntry.chain == chain, AuditEntry.seq == 3)
            .values(reason="rewritten")
        )
    with app.state.session_factory() as s:
        assert audit.verify_chains(s) == [audit.ChainBreak(chain, 3, "changed")]


def test_verify_finds_deleted_rows(
    app: FastAPI, api_client: ApiClientFactory, clock: FixedClock
) -> None:
    tid = api_client().tenant_id
    assert tid is not None
    _append(app, tid, 6, clock)
    chain = audit.chain_for(tid)
    with app.state.session_factory() as s:
        last = max(s.scalars(select(AuditEntry.seq).where(AuditEntry.chain == chain)))
    with app.state.session_factory() as s, s.begin():
        s.execute(delete(AuditEntry).where(AuditEntry.chain == chain, AuditEntry.seq == last))
    with app.state.session_factory() as s:
        assert audit.verify_chains(s, chain=chain) == [audit.ChainBreak(chain, last, "missing")]
    with app.state.session_factory() as s, s.begin():
        s.execute(delete(AuditEntry).where(AuditEntry.chain == chain, AuditEntry.seq == 2))
    with app.state.session_factory() as s:
        assert audit.verify_chains(s, chain=chain) == [audit.ChainBreak(chain, 2, "missing")]


def test_audit_endpoint_pages_the_own_chain(
    client: TestClient, api_client: ApiClientFactory, clock: FixedClock
) -> None:
    creds = api_client(scopes=["audit:read"])
    assert creds.tenant_id is not None
    _append(client.app, creds.tenant_id, 4, clock)  # type: ignore[arg-type]
    first = client.get("/api/v1/audit", headers=creds.headers, params={"limit": 3}).json()
    assert [e["seq"] for e in first["items"]] == [1, 2, 3]
    rest = client.get(
        "/api/v1/audit", headers=creds.headers, params={"after_seq": first["next_after_seq"]}
    ).json()
    assert rest["items"][0]["seq"] == 4
    assert rest["next_after_seq"] is None
    assert (
        client.get(
            "/api/v1/audit", headers=api_client(scopes=["registry:write"]).headers
        ).status_code
        == 403
    )
