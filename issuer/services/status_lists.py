"""Status lists (docs/formats.md): random never-reused indices, 2-bit statuses, cached tokens.

- `allocate_indices` draws uniformly random indices with `secrets` from a list with room and
  inserts them into `status_entries`, whose unique (tenant, list_no, idx) makes reuse
  impossible: an index already taken is left out (`ON CONFLICT DO NOTHING`) and drawn again.
  Lists hold `Settings.status_list_size` entries (2^17 by default, large enough for herd
  privacy) and take new indices until half full, so a draw collides rarely; then the next
  allocation opens a new list (roll-over), so issuance never fails on a full list. Each list
  keeps the size it was created with.
- `set_status` writes the entry and bumps the list's `version` in the caller's transaction;
  the signed tokens cached on the list row carry the version they were built from, and
  `ensure_built` rebuilds them once when stale (never per request).
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Float, Table, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from issuer.db.permit_models import StatusEntry, StatusList
from issuer.services.clock import as_utc
from keys.lifecycle import Purpose
from keys.status_list import build_status_list_tokens
from verifier.formats import StatusList as WireStatusList
from verifier.formats import StatusValue

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from issuer.db.models import Tenant
    from issuer.services.signing import KeyStore
    from issuer.settings import Settings

LIST_SIZE = 2**17
BITS = 2
FILL_LIMIT = 0.5  # a list takes new indices until half full
MAX_DRAWS = 64
_VALUES = frozenset(StatusValue)
_RANDOM = secrets.SystemRandom()
# statements built once and run with their values bound (each costs more to build than to
# run), on the tables (Core): the ORM's statement handling adds nothing to plain rows
_LOCK_HEAD: Any = None  # built on first use: the audit models import this module
_LISTS = cast(Table, StatusList.__table__)
_HAS_ROOM = (
    _LISTS.c.tenant_id == bindparam("tenant"),
    _LISTS.c.allocated < _LISTS.c.size * bindparam("fill", type_=Float),
)
_ROOM = (
    select(_LISTS.c.id, _LISTS.c.list_no, _LISTS.c.size, _LISTS.c.allocated)
    .where(*_HAS_ROOM)
    .order_by(_LISTS.c.list_no)
    .limit(1)
    .with_for_update()
)
_TAKE = (
    update(_LISTS)
    .where(_LISTS.c.id == bindparam("b_id"))
    .values(allocated=_LISTS.c.allocated + bindparam("b_n"))
)
# one index (a single permit's token): the first list with room takes it in one statement
_TAKE_ONE = (
    update(_LISTS)
    .where(
        _LISTS.c.id
        == select(_LISTS.c.id)
        .where(*_HAS_ROOM)
        .order_by(_LISTS.c.list_no)
        .limit(1)
        .scalar_subquery(),
        *_HAS_ROOM,
    )
    .values(allocated=_LISTS.c.allocated + 1)
    .returning(_LISTS.c.list_no, _LISTS.c.size)
)
_ENTRIES: Any = StatusEntry.__table__
_FREE_INSERTS = {
    name: module.insert(_ENTRIES).on_conflict_do_nothing().returning(_ENTRIES.c.idx)
    for name, module in (("postgresql", postgresql), ("sqlite", sqlite))
}


def lock_tenant(session: Session, tenant_id: int) -> None:
    """Take the tenant's audit chain head first (PostgreSQL row lock; SQLite locks the file).

    Every write of a tenant appends to its audit chain, so they serialise on that row anyway;
    taking it before any permit, status list or counter row gives every transaction the same
    lock order ([resident] → audit head → permit → counter → status list → publication) and
    so no deadlock between, say, a revocation and a registry change of the same tenant.

    Taken once per transaction: a second call while the transaction (or savepoint) that took
    the lock, or one of its ancestors, is still active costs no statement. A lock taken inside
    a savepoint that ended is taken again (PostgreSQL releases it on rollback to the savepoint).
    The head's seq and hash, read with the lock, are noted for the audit append that follows
    (`audit.remember_head`).
    """
    from issuer.db.models import AuditHead
    from issuer.services.audit import chain_for, remember_head

    current = session.get_nested_transaction() or session.get_transaction()
    held: dict[int, Any] = session.info.setdefault("buergerid_locked_tenants", {})
    owner = held.get(tenant_id)
    if owner is not None and owner.is_active:
        txn = current
        while txn is not None:
            if txn is owner:
                return
            txn = txn.parent
    global _LOCK_HEAD
    if _LOCK_HEAD is None:
        heads = cast(Table, AuditHead.__table__)
        _LOCK_HEAD = (
            select(heads.c.seq, heads.c.hash)
            .where(heads.c.chain == bindparam("chain"))
            .with_for_update()
        )
    chain = chain_for(tenant_id)
    head = session.execute(_LOCK_HEAD, {"chain": chain}).first()
    current = current or session.get_transaction()  # the statement may have begun it
    if current is not None:
        held[tenant_id] = current
    if head is not None:  # the append that follows needs no statement to read it
        remember_head(session, chain, int(head[0]), str(head[1]))


def _reserve(
    session: Session, tenant_id: int, want: int, now: datetime, size: int
) -> tuple[int, int, int]:
    """(list_no, list size, n): `n` ≤ `want` indices counted as allocated on the first list of
    the tenant with room, created with `size` entries when there is none. Room is judged by
    each list's own size: a list takes indices while fewer than FILL_LIMIT of it are taken."""
    if want == 1:
        taken = session.execute(_TAKE_ONE, {"tenant": tenant_id, "fill": FILL_LIMIT}).first()
        if taken is None:
            return _open_list(session, tenant_id, want, now, size)
        return int(taken[0]), int(taken[1]), 1
    found = session.execute(_ROOM, {"tenant": tenant_id, "fill": FILL_LIMIT}).first()
    if found is None:
        return _open_list(session, tenant_id, want, now, size)
    row_id, list_no, list_size, allocated = (int(v) for v in found)
    n = min(want, math.ceil(list_size * FILL_LIMIT) - allocated)
    session.execute(_TAKE, {"b_id": row_id, "b_n": n})
    return list_no, list_size, n


def _open_list(
    session: Session, tenant_id: int, want: int, now: datetime, size: int
) -> tuple[int, int, int]:
    """A new list of `size` entries (the next number), `want` of them reserved at once."""
    n = min(want, math.ceil(size * FILL_LIMIT))
    for _ in range(5):
        last = session.scalar(
            select(func.max(StatusList.list_no)).where(StatusList.tenant_id == tenant_id)
        )
        list_no = (last or 0) + 1
        inserted = session.execute(
            _insert_ignoring_conflicts(session, StatusList)
            .values(
                tenant_id=tenant_id,
                list_no=list_no,
                size=size,
                bits=BITS,
                allocated=n,
                version=1,
                created_at=now,
            )
            .returning(StatusList.list_no)
        ).first()
        if inserted is not None:
            return list_no, size, n
        # another transaction created that list number; take the next
    raise RuntimeError("could not create a status list")


def _insert_ignoring_conflicts(session: Session, table: Any) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING, on SQLite and PostgreSQL alike."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(
        table
    ).on_conflict_do_nothing()


def allocate_indices(
    session: Session, *, tenant_id: int, count: int, now: datetime, size: int | None = None
) -> list[tuple[int, int]]:
    """`count` fresh random (list_no, idx), recorded (VALID) in this transaction.

    Each index is drawn uniformly (`secrets`) from its list and inserted only where it is
    free (unique (tenant, list_no, idx)); an index another token holds is drawn again.
    ``size`` is the size of a list opened now (`Settings.status_list_size`; default 2^17).
    """
    lock_tenant(session, tenant_id)
    out: list[tuple[int, int]] = []
    while len(out) < count:
        list_no, list_size, n = _reserve(
            session, tenant_id, count - len(out), now, size or LIST_SIZE
        )
        out.extend((list_no, idx) for idx in _draw(session, tenant_id, list_no, list_size, n, now))
    return out


def _draw(
    session: Session, tenant_id: int, list_no: int, size: int, n: int, now: datetime
) -> list[int]:
    taken: list[int] = []
    tried: set[int] = set()
    for _ in range(MAX_DRAWS):
        missing = n - len(taken)
        if not missing:
            return taken
        drawn = _RANDOM.sample(range(size), min(size, missing + len(tried)))
        batch = [i for i in drawn if i not in tried][:missing]
        tried.update(batch)
        rows = session.execute(
            _FREE_INSERTS[session.get_bind().dialect.name],
            [
                {
                    "tenant_id": tenant_id,
                    "list_no": list_no,
                    "idx": idx,
                    "status": StatusValue.VALID,
                    "allocated_at": now,
                }
                for idx in batch
            ],
        ).all()
        taken.extend(int(r[0]) for r in rows)
    raise RuntimeError("no free status index after many draws")


def allocate_index(
    session: Session, *, tenant_id: int, now: datetime | None = None, size: int | None = None
) -> tuple[int, int]:
    """A fresh random (list_no, idx) for one token, recorded in this transaction."""
    from issuer.services.clock import SystemClock

    at = now or SystemClock().now()
    return allocate_indices(session, tenant_id=tenant_id, count=1, now=at, size=size)[0]


def set_status(session: Session, *, tenant_id: int, list_no: int, idx: int, value: int) -> None:
    """Set one index to a `StatusValue` (VALID, INVALID, SUSPENDED); marks the list for rebuild."""
    set_statuses(session, tenant_id=tenant_id, entries=[(list_no, idx)], value=value)


def set_statuses(
    session: Session,
    *,
    tenant_id: int,
    entries: Iterable[tuple[int, int]],
    value: int,
    only_from: int | None = None,
) -> int:
    """Set many indices at once (revoking a permit sets all of its tokens); returns the count.

    `only_from` changes only entries currently at that value: suspending moves VALID to
    SUSPENDED and resuming moves SUSPENDED back, so a token revoked on its own (a lost
    phone's credential) stays revoked through a suspension and resumption of its permit.
    """
    if value not in _VALUES:
        raise ValueError("status value must be 0, 1 or 2")
    lock_tenant(session, tenant_id)
    by_list: dict[int, list[int]] = {}
    for list_no, idx in entries:
        by_list.setdefault(list_no, []).append(idx)
    changed = 0
    for list_no, indices in sorted(by_list.items()):
        # lock the list row first: every writer of this list queues here, in list order
        bump = (
            update(StatusList)
            .where(StatusList.tenant_id == tenant_id, StatusList.list_no == list_no)
            .values(version=StatusList.version + 1)
        )
        session.execute(bump)
        for start in range(0, len(indices), 500):
            chunk = indices[start : start + 500]
            stmt = update(StatusEntry).where(
                StatusEntry.tenant_id == tenant_id,
                StatusEntry.list_no == list_no,
                StatusEntry.idx.in_(chunk),
            )
            if only_from is not None:
                stmt = stmt.where(StatusEntry.status == only_from)
            result = session.execute(
                stmt.values(status=value).execution_options(synchronize_session=False)
            )
            changed += int(getattr(result, "rowcount", 0) or 0)
    return changed


def revoke_tokens(session: Session, *, tenant_id: int, tokens: Iterable[tuple[int, int]]) -> int:
    """Revoke a list of (list_no, idx) tokens at once (e.g. a lost phone's credentials)."""
    return set_statuses(session, tenant_id=tenant_id, entries=tokens, value=StatusValue.INVALID)


def status_of(session: Session, *, tenant_id: int, list_no: int, idx: int) -> int | None:
    """The stored status of one index, None if it was never allocated."""
    return session.scalar(
        select(StatusEntry.status).where(
            StatusEntry.tenant_id == tenant_id,
            StatusEntry.list_no == list_no,
            StatusEntry.idx == idx,
        )
    )


# ------------------------------------------------------------------------------- building


def pack(size: int, statuses: Iterable[tuple[int, int]], bits: int = BITS) -> bytes:
    """The raw bitstring of a list (the verifier's StatusList does the bit layout)."""
    values = {idx: value for idx, value in statuses if value}
    return WireStatusList.from_values(bits, size, values).data


def list_bits(session: Session, *, tenant_id: int, list_no: int, size: int) -> bytes:
    """The current bitstring of one list, from the non-VALID entries."""
    rows = session.execute(
        select(StatusEntry.idx, StatusEntry.status).where(
            StatusEntry.tenant_id == tenant_id,
            StatusEntry.list_no == list_no,
            StatusEntry.status != StatusValue.VALID,
        )
    ).all()
    return pack(size, ((int(i), int(s)) for i, s in rows))


def list_uri(settings: Settings, ags: str, list_no: int) -> str:
    """The https URI of a list, the `sub` of its token and the `uri` in credentials."""
    return f"{settings.public_base_url.rstrip('/')}/status-lists/{ags}/{list_no}"


def needs_rebuild(row: StatusList, now: datetime, refresh: timedelta) -> bool:
    """Stale when the state changed since the build, or the token nears its expiry."""
    if row.built_version != row.version or row.built_at is None or row.cwt is None:
        return True
    return now >= as_utc(row.built_at) + refresh


def ensure_built(
    session: Session, keys: KeyStore, *, tenant: Tenant, row: StatusList, now: datetime
) -> StatusList:
    """Rebuild and store the signed CWT and JWT of a list when stale; returns the row.

    Signed by the tenant's `status` key; the JWT carries the key's certificate chain in
    `x5c` (HAIP 1.0) when it has one (issuer/services/certificates.py)."""
    from issuer.services.certificates import x5c_for

    settings = keys.settings
    if not needs_rebuild(row, now, status_refresh(settings)):
        return row
    version = row.version
    data = list_bits(session, tenant_id=row.tenant_id, list_no=row.list_no, size=row.size)
    signer = keys.signer(tenant, Purpose.STATUS, now)
    iat = int(now.timestamp())
    cwt, jwt = build_status_list_tokens(
        signer,
        uri=list_uri(settings, tenant.ags, row.list_no),
        issuer=tenant.issuer_url,
        bits=BITS,
        data=data,
        iat=iat,
        exp=iat + settings.status_list_exp_seconds,
        ttl=settings.status_list_ttl_seconds,
        x5c=x5c_for(keys, tenant, signer, now),
    )
    # only store when nobody changed the list meanwhile (version unchanged)
    session.execute(
        update(StatusList)
        .where(StatusList.id == row.id, StatusList.version == version)
        .values(cwt=cwt, jwt=jwt, built_version=version, built_at=now)
        .execution_options(synchronize_session=False)
    )
    row.cwt, row.jwt, row.built_version, row.built_at = cwt, jwt, version, now
    return row


def status_refresh(settings: Settings) -> timedelta:
    """How long a built status list token is served before a fresh one is signed."""
    return timedelta(seconds=settings.status_list_refresh_seconds)


def tenant_lists(session: Session, *, tenant_id: int) -> list[StatusList]:
    """Every list of a tenant, by number."""
    return list(
        session.scalars(
            select(StatusList).where(StatusList.tenant_id == tenant_id).order_by(StatusList.list_no)
        )
    )
