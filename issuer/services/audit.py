"""Append-only, hash-chained audit log (one chain per tenant, plus `global` for the operator).

Each entry's hash is SHA-256 over a canonical JSON encoding of its fields including the
previous entry's hash, so changing or deleting a row breaks the chain at that sequence.
Appends lock the chain's head row (`UPDATE ... RETURNING` takes the row lock on PostgreSQL;
on SQLite every transaction starts with BEGIN IMMEDIATE), so concurrent appends serialise.
Entries carry ids only, never personal data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from issuer import metrics
from issuer.db.models import AuditEntry, AuditHead

GENESIS_HASH = "0" * 64
GLOBAL_CHAIN = "global"


def chain_for(tenant_id: int | None) -> str:
    """The chain name of a tenant (`t<id>`) or the operator chain."""
    return GLOBAL_CHAIN if tenant_id is None else f"t{tenant_id}"


def entry_hash(
    *,
    chain: str,
    seq: int,
    at: datetime,
    tenant_id: int | None,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    reason: str | None,
    prev_hash: str,
) -> str:
    """SHA-256 hex over the canonical JSON (sorted keys, no spaces, UTC microseconds)."""
    canonical = json.dumps(
        {
            "chain": chain,
            "seq": seq,
            "at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "tenant_id": tenant_id,
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "reason": reason,
            "prev_hash": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def ensure_chain(session: Session, tenant_id: int | None) -> None:
    """Create the chain head of a tenant (called in the tenant-creating transaction)."""
    chain = chain_for(tenant_id)
    if session.get(AuditHead, chain) is None:
        session.add(AuditHead(chain=chain, seq=0, hash=GENESIS_HASH))
        session.flush()


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry to append: who did what to which object, and why (ids and codes only)."""

    actor: str
    action: str
    object_type: str
    object_id: str
    reason: str | None = None


def record(
    session: Session,
    *,
    tenant_id: int | None,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    reason: str | None = None,
    now: datetime,
) -> None:
    """Append one entry in the caller's transaction; ids only, never personal data."""
    record_many(
        session,
        tenant_id=tenant_id,
        entries=[Entry(actor, action, object_type, object_id, reason)],
        now=now,
    )


# built once, run with the values bound (record_many runs in every write); on the table
# (Core): the ORM's statement handling would cost more than the statement
_HEADS = cast(Table, AuditHead.__table__)
_ADVANCE = (
    update(_HEADS)
    .where(_HEADS.c.chain == bindparam("b_chain"))
    .values(seq=_HEADS.c.seq + bindparam("b_n"))
    .returning(_HEADS.c.seq, _HEADS.c.hash)
)
_STORE_HEAD = (
    update(_HEADS).where(_HEADS.c.chain == bindparam("b_chain")).values(hash=bindparam("b_hash"))
)


_SET_HEAD = (
    update(_HEADS)
    .where(
        _HEADS.c.chain == bindparam("b_chain"),
        _HEADS.c.seq == bindparam("b_seq"),
        _HEADS.c.hash == bindparam("b_hash"),
    )
    .values(seq=bindparam("b_new_seq"), hash=bindparam("b_new_hash"))
)
_KNOWN_HEADS = "buergerid_audit_heads"


def remember_head(session: Session, chain: str, seq: int, head_hash: str) -> None:
    """Note a chain head read under its row lock in the session's current transaction
    (`status_lists.lock_tenant`), so the next append there needs no statement to read it."""
    known: dict[str, tuple[object, int, str]] = session.info.setdefault(_KNOWN_HEADS, {})
    known[chain] = (session.get_transaction(), seq, head_hash)


def _known_head(session: Session, chain: str) -> tuple[int, str] | None:
    known: dict[str, tuple[object, int, str]] = session.info.get(_KNOWN_HEADS, {})
    found = known.get(chain)
    if found is None or found[0] is not session.get_transaction():
        return None
    return found[1], found[2]


def record_many(
    session: Session, *, tenant_id: int | None, entries: Sequence[Entry], now: datetime
) -> None:
    """Append entries in their order in the caller's transaction.

    When this transaction read the head under its lock (`remember_head`), two statements
    however many entries: the head moves from exactly that seq and hash to the new ones (a
    compare-and-set: a head changed meanwhile, e.g. by a savepoint rolled back, matches no
    row) and the entries are inserted. Otherwise, or when the compare-and-set matched
    nothing, three: take the head (UPDATE … RETURNING), insert the entries, store the new
    head hash."""
    if not entries:
        return
    chain = chain_for(tenant_id)
    known = _known_head(session, chain)
    if known is not None:
        seq, prev_hash = known
        rows = _rows(chain, seq, prev_hash, tenant_id, entries, now)
        moved = session.execute(
            _SET_HEAD,
            {
                "b_chain": chain,
                "b_seq": seq,
                "b_hash": prev_hash,
                "b_new_seq": rows[-1]["seq"],
                "b_new_hash": rows[-1]["hash"],
            },
        )
        if moved.rowcount == 1:  # type: ignore[attr-defined]
            _append(session, chain, tenant_id, entries, rows)
            return
    # the UPDATE takes the head's row lock; RETURNING gives the new seq and the *old* hash
    row = session.execute(_ADVANCE, {"b_chain": chain, "b_n": len(entries)}).one_or_none()
    if row is None:
        ensure_chain(session, tenant_id)
        record_many(session, tenant_id=tenant_id, entries=entries, now=now)
        return
    rows = _rows(chain, int(row[0]) - len(entries), str(row[1]), tenant_id, entries, now)
    session.execute(_STORE_HEAD, {"b_chain": chain, "b_hash": rows[-1]["hash"]})
    _append(session, chain, tenant_id, entries, rows)


def _rows(
    chain: str,
    seq: int,
    prev_hash: str,
    tenant_id: int | None,
    entries: Sequence[Entry],
    now: datetime,
) -> list[dict[str, Any]]:
    """The rows of `entries` appended after the head (`seq`, `prev_hash`), hashes chained."""
    at = now.astimezone(UTC)
    rows: list[dict[str, Any]] = []
    for entry in entries:
        seq += 1
        digest = entry_hash(
            chain=chain,
            seq=seq,
            at=at,
            tenant_id=tenant_id,
            actor=entry.actor,
            action=entry.action,
            object_type=entry.object_type,
            object_id=entry.object_id,
            reason=entry.reason,
            prev_hash=prev_hash,
        )
        rows.append(
            {
                "chain": chain,
                "seq": seq,
                "at": at,
                "tenant_id": tenant_id,
                "actor": entry.actor,
                "action": entry.action,
                "object_type": entry.object_type,
                "object_id": entry.object_id,
                "reason": entry.reason,
                "prev_hash": prev_hash,
                "hash": digest,
            }
        )
        prev_hash = digest
    return rows


def _append(
    session: Session,
    chain: str,
    tenant_id: int | None,
    entries: Sequence[Entry],
    rows: list[dict[str, Any]],
) -> None:
    """Insert the rows (the head already points at the last) and note the new head."""
    # through the table (Core): no ORM bookkeeping per row
    session.execute(insert(cast(Table, AuditEntry.__table__)), rows)
    # the head row stays locked by this transaction: the next append here starts from it
    remember_head(session, chain, int(rows[-1]["seq"]), str(rows[-1]["hash"]))
    for entry in entries:
        metrics.audited(
            session, tenant_id=tenant_id, action=entry.action, object_id=entry.object_id
        )


def list_entries(
    session: Session, *, tenant_id: int, after_seq: int = 0, limit: int = 100
) -> list[AuditEntry]:
    """A tenant's entries in chain order, after `after_seq`."""
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.chain == chain_for(tenant_id), AuditEntry.seq > after_seq)
            .order_by(AuditEntry.seq)
            .limit(limit)
        )
    )


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """Where a chain stops verifying, and why (`changed`, `missing`, `head_mismatch`)."""

    chain: str
    seq: int
    problem: str


def _iter_chain(session: Session, chain: str) -> Iterator[AuditEntry]:
    last = 0
    while True:
        batch = list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.chain == chain, AuditEntry.seq > last)
                .order_by(AuditEntry.seq)
                .limit(1000)
            )
        )
        if not batch:
            return
        yield from batch
        last = batch[-1].seq


def verify_chains(session: Session, *, chain: str | None = None) -> list[ChainBreak]:
    """Recompute every chain (or one); returns the first break of each broken chain."""
    heads = session.scalars(
        select(AuditHead).where(AuditHead.chain == chain) if chain else select(AuditHead)
    ).all()
    breaks: list[ChainBreak] = []
    for head in sorted(heads, key=lambda h: h.chain):
        expected_seq, prev = 1, GENESIS_HASH
        broken: ChainBreak | None = None
        for entry in _iter_chain(session, head.chain):
            if entry.seq != expected_seq:
                broken = ChainBreak(head.chain, expected_seq, "missing")
                break
            recomputed = entry_hash(
                chain=entry.chain,
                seq=entry.seq,
                at=entry.at,
                tenant_id=entry.tenant_id,
                actor=entry.actor,
                action=entry.action,
                object_type=entry.object_type,
                object_id=entry.object_id,
                reason=entry.reason,
                prev_hash=entry.prev_hash,
            )
            if entry.prev_hash != prev or recomputed != entry.hash:
                broken = ChainBreak(head.chain, entry.seq, "changed")
                break
            prev, expected_seq = entry.hash, expected_seq + 1
        if broken is None and (head.seq != expected_seq - 1 or head.hash != prev):
            # the newest rows were deleted (or the head was tampered with)
            broken = ChainBreak(
                head.chain, expected_seq, "missing" if head.seq >= expected_seq else "head_mismatch"
            )
        if broken is not None:
            breaks.append(broken)
    return breaks
