"""Issuing: apply, renew, replace and finalise — each judges an application and signs a token.

The four share their steps: the facts are gathered and judged (`_judge`: 422 with every
failed rule), the fee is charged, a new permit row is built by `_new_permit` (apply,
replace) or the existing one is given its new period (renew, finalise), the change protocol
writes it, and an active permit gets a new QR token in the same transaction.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapper, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from issuer.db import bulk
from issuer.db.models import Resident, Tenant
from issuer.db.permit_models import Permit, PermitCharge, PermitCounter, PermitPlate
from issuer.errors import Conflict, ErrorCode, InvalidRequest, IssuerError
from issuer.services import eligibility, fees, status_lists
from issuer.services.clock import as_utc
from issuer.services.eligibility import Rule, Rules, refused
from issuer.services.permits.changes import Change, set_row, write_change, write_changes
from issuer.services.permits.facts import Facts, Question, gather, gather_many
from issuer.services.permits.queries import lock_for_change
from issuer.services.permits.rules import (
    add_months,
    parse_permit_type,
    rules_for,
    tenant_rules,
    validate_windows,
    validity,
)
from issuer.services.permits.tokens import issue_qr_token, issue_qr_tokens
from issuer.services.permits.vocabulary import (
    Action,
    ChargeReason,
    Event,
    PermitState,
    RevocationReason,
    legal_basis,
)
from verifier import PermitType
from verifier.formats import StatusValue

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from issuer.services.signing import KeyStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PermitRequest:
    """What a municipal system asks for (`POST /api/v1/permits`)."""

    permit_type: str = PermitType.BEW
    resident_id: uuid.UUID | None = None
    zone_codes: tuple[str, ...] = ()
    vehicle_ids: tuple[uuid.UUID, ...] = ()
    plates: tuple[str, ...] = ()  # BES/HAN/PFL/SON: named plates, not from the registry
    fleet: str | None = None
    holder_label: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    months: int | None = None
    windows: tuple[tuple[int, ...], ...] = ()  # [days, from, to] each, checked on applying
    max_stay_minutes: int | None = None
    provisional: bool = False
    auto_renew: bool = False
    display_required: bool = True


@dataclass(frozen=True, slots=True)
class Issued:
    """A permit just changed, with the QR token issued in the same transaction (if any)."""

    permit: Permit
    qr: str | None = None


def request_of(permit: Permit) -> PermitRequest:
    """The application an existing permit stands for (renewal, replacement, finalising)."""
    return PermitRequest(
        permit_type=permit.permit_type,
        resident_id=permit.resident_id,
        zone_codes=tuple(permit.zone_codes),
        vehicle_ids=tuple(p.vehicle_id for p in permit.plates if p.vehicle_id is not None),
        plates=tuple(p.plate for p in permit.plates if p.vehicle_id is None),
        fleet=permit.fleet,
        holder_label=permit.holder_label,
        windows=tuple(tuple(w) for w in permit.windows or ()),
        max_stay_minutes=permit.max_stay_minutes,
        auto_renew=permit.auto_renew,
        display_required=permit.display_required,
    )


# ------------------------------------------------------------------------ shared steps

# statements every application runs, built once and run with their values bound, on the
# tables (Core): the ORM's statement handling would cost more than the statements
_COUNTERS = cast(Table, PermitCounter.__table__)
_NEXT_NUMBER = (
    update(_COUNTERS)
    .where(_COUNTERS.c.tenant_id == bindparam("tenant"))
    .values(next_number=_COUNTERS.c.next_number + 1)
    .returning(_COUNTERS.c.next_number)
)
_RESIDENTS = cast(Table, Resident.__table__)
_LOCK_RESIDENT = (
    select(_RESIDENTS.c.id)
    .where(_RESIDENTS.c.id == bindparam("id"), _RESIDENTS.c.tenant_id == bindparam("tenant"))
    .with_for_update()
)


def _judge(
    session: Session,
    *,
    tenant_id: int,
    question: Question,
    now: datetime,
    ignore: frozenset[Rule] = frozenset(),
) -> Facts:
    """The facts of the application once every rule passed; else 422 with each failed rule."""
    facts = gather(session, tenant_id=tenant_id, question=question, now=now)
    failed = [r for r in eligibility.check(facts.application, question.rules) if r not in ignore]
    if failed:
        raise refused(failed)
    return facts


def _fee_basis(facts: Facts, start: datetime, until: datetime) -> fees.FeeBasis:
    return fees.FeeBasis(
        months=fees.months_between(start, until), length_mm=facts.length_mm, width_mm=facts.width_mm
    )


def _charge(
    session: Session,
    permit: Permit,
    facts: Facts,
    *,
    reason: ChargeReason,
    start: datetime,
    until: datetime,
    now: datetime,
) -> None:
    """Record the fee of the tenant's schedule in force at `now` for `start`..`until`."""
    schedule_id, amount = fees.fee_for(
        session,
        tenant_id=permit.tenant_id,
        permit_type=permit.permit_type,
        at=now,
        basis=_fee_basis(facts, start, until),
    )
    permit.charges.append(
        PermitCharge(
            tenant_id=permit.tenant_id,
            reason=reason,
            fee_schedule_id=schedule_id,
            amount_cents=amount,
            created_at=now,
        )
    )


def _next_number(session: Session, tenant_id: int) -> int:
    """The tenant's next permit number (the counter row is locked until the transaction ends)."""
    result = session.execute(_NEXT_NUMBER, {"tenant": tenant_id}).first()
    if result is not None:
        return int(result[0]) - 1
    try:
        with session.begin_nested():
            session.add(PermitCounter(tenant_id=tenant_id, next_number=2))
            session.flush()
        return 1
    except IntegrityError:
        return _next_number(session, tenant_id)


def _new_permit(
    session: Session,
    *,
    tenant_id: int,
    request: PermitRequest,
    facts: Facts,
    rules: Rules,
    state: PermitState,
    valid_from: datetime,
    valid_until: datetime,
    windows: list[list[int]] | None,
    now: datetime,
    **fields: object,
) -> Permit:
    """A new permit row with its plates, holding the resident's and plates' slots as the
    rules want; `fields` fill or override the rest (a replacement keeps its predecessor's)."""
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "tenant_id": tenant_id,
        "number": _next_number(session, tenant_id),
        "permit_type": request.permit_type,
        "state": state,
        "resident_id": request.resident_id,
        "holder_label": request.holder_label,
        "zone_codes": list(facts.zone_codes),
        "fleet": request.fleet,
        "use_kind": facts.use_kind,
        "proof_ref": facts.proof_ref,
        "max_stay_minutes": request.max_stay_minutes,
        "windows": windows,
        "valid_from": valid_from,
        "valid_until": valid_until,
        "is_provisional": request.provisional,
        "auto_renew": request.auto_renew,
        "display_required": request.display_required,
        "legal_basis": legal_basis(request.permit_type),
        "exclusive_key": (
            str(request.resident_id) if rules.one_per_resident and request.resident_id else None
        ),
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    permit = Permit(**values)
    permit.plates = [
        PermitPlate(
            tenant_id=tenant_id,
            permit_type=request.permit_type,
            position=i,
            plate=plate,
            vehicle_id=vehicle_id,
            lock_key=plate if rules.one_per_vehicle else None,
        )
        for i, (plate, vehicle_id) in enumerate(facts.plates)
    ]
    return permit


def _insert(
    session: Session,
    permit: Permit,
    change: Change,
    *,
    actor: str,
    now: datetime,
    taken: Sequence[Rule],
) -> None:
    """Write a new permit through the change protocol; a slot a concurrent issuance took
    after our check refuses with `taken` (the database's unique constraints decide)."""
    _add_new(session, permit, taken=taken)
    write_change(session, permit, change, actor=actor, now=now)


def _add_new(session: Session, permit: Permit, *, taken: Sequence[Rule]) -> None:
    """Insert a new permit row, its plates and its charges through their tables (a statement
    each; the unit of work would add nothing to rows written once and complete) and make
    them the session's persistent objects, every column loaded. A slot a concurrent
    issuance took after our check refuses with `taken` (the unique constraints decide)."""
    plates, charges = list(permit.plates), list(permit.charges)
    permit_row = _complete_row(permit)
    for plate in plates:
        plate.permit_id = permit.id
    for charge in charges:
        charge.permit_id = permit.id
    try:
        session.execute(_INSERT_PERMIT, permit_row)
        _insert_numbered(session, cast(Table, PermitPlate.__table__), plates)
        _insert_numbered(session, cast(Table, PermitCharge.__table__), charges)
    except IntegrityError as exc:
        raise refused(taken) from exc
    for obj in (permit, *plates, *charges):
        make_transient_to_detached(obj)
    session.add(permit)  # cascades to the plates and charges: persistent, nothing to flush


# built once per table (a statement costs more to build than to run)
_INSERT_PERMIT = insert(cast(Table, Permit.__table__))


@functools.cache
def _numbered_inserts(table: Table) -> tuple[Any, Any]:
    """INSERT … RETURNING id of `table`: for one row, and for many in their order."""
    return (
        insert(table).returning(table.c.id),
        insert(table).returning(table.c.id, sort_by_parameter_order=True),
    )


def _insert_numbered(
    session: Session, table: Table, objs: Sequence[PermitPlate | PermitCharge]
) -> None:
    """Insert new rows the database numbers (plates, charges); each object gets its id."""
    if not objs:
        return
    one, many = _numbered_inserts(table)
    if len(objs) == 1:
        objs[0].id = session.execute(one, _complete_row(objs[0])).scalar_one()
        return
    ids = session.execute(many, [_complete_row(obj) for obj in objs]).scalars().all()
    for obj, new_id in zip(objs, ids, strict=True):
        obj.id = new_id


@functools.cache
def _columns_of(mapper: Mapper[Any]) -> tuple[tuple[str, str, bool, object], ...]:
    """Per column of a mapped class: (attribute, column, left to the INSERT when unset, the
    scalar default or None). Left to the INSERT: a key the database numbers, a callable or
    a server default."""
    columns = []
    for attr in mapper.column_attrs:
        column = attr.columns[0]
        default = column.default
        left = (column.primary_key and default is None) or (
            column.server_default is not None or (default is not None and not default.is_scalar)
        )
        value = default.arg if default is not None and default.is_scalar else None
        columns.append((attr.key, column.key, left, value))
    return tuple(columns)


def _complete_row(obj: object) -> dict[str, object]:
    """Every column of a new object, in its row: the value set, else the column's scalar
    default (set on the object too), else NULL. A key the database numbers, a callable or a
    server default is left to the INSERT (the object reads such a value when asked)."""
    state = sa_inspect(obj)
    values = state.dict
    row: dict[str, object] = {}
    for key, column_key, left, default in _columns_of(state.mapper):
        if key in values:
            row[column_key] = values[key]
        elif not left:
            set_committed_value(obj, key, default)
            row[column_key] = default
    return row


# ------------------------------------------------------------------------------- apply


def apply(
    session: Session,
    keys: KeyStore,
    *,
    tenant: Tenant,
    request: PermitRequest,
    actor: str,
    now: datetime,
) -> Issued:
    """Check eligibility and issue (or put into awaiting_payment); 422 with every failed rule."""
    req = request
    parse_permit_type(req.permit_type)
    rules = rules_for(session, tenant_id=tenant.id, permit_type=req.permit_type)
    windows = validate_windows(req.windows)
    if req.resident_id is not None:
        _lock_resident(session, tenant.id, req.resident_id)
    status_lists.lock_tenant(session, tenant.id)
    valid_from, valid_until = validity(req, rules, now)
    facts = _judge(
        session,
        tenant_id=tenant.id,
        question=Question(req, rules, valid_from, valid_until),
        now=now,
    )
    schedule_id, amount = (None, 0)
    if not req.provisional:
        schedule_id, amount = fees.fee_for(
            session,
            tenant_id=tenant.id,
            permit_type=req.permit_type,
            at=now,
            basis=_fee_basis(facts, valid_from, valid_until),
        )
    awaiting = rules.awaiting_payment and amount > 0
    permit = _new_permit(
        session,
        tenant_id=tenant.id,
        request=req,
        facts=facts,
        rules=rules,
        state=PermitState.AWAITING_PAYMENT if awaiting else PermitState.ACTIVE,
        valid_from=valid_from,
        valid_until=valid_until,
        windows=windows or None,
        now=now,
        max_stay_minutes=req.max_stay_minutes or rules.default_max_stay_minutes,
    )
    permit.charges = [
        PermitCharge(
            tenant_id=tenant.id,
            reason=ChargeReason.ISSUE,
            fee_schedule_id=schedule_id,
            amount_cents=amount,
            created_at=now,
        )
    ]
    reason = "provisional" if req.provisional else None
    _insert(
        session,
        permit,
        Change(Event.ISSUED, reason=reason),
        actor=actor,
        now=now,
        taken=(Rule.RESIDENT_HAS_PERMIT, Rule.VEHICLE_HAS_PERMIT),
    )
    qr = None
    if permit.state == PermitState.ACTIVE:
        qr = issue_qr_token(session, keys, permit=permit, now=now)
    log.info("permit_issued", extra={"tenant": tenant.ags, "permit_no": permit.number})
    return Issued(permit=permit, qr=qr)


def _lock_resident(session: Session, tenant_id: int, resident_id: uuid.UUID) -> None:
    """Serialise applications of one resident: a row lock on PostgreSQL. On SQLite every
    transaction holds the database's write lock from its start (`BEGIN IMMEDIATE`), which
    serialises them all; a row lock is no statement there (SQLite has none)."""
    if session.get_bind().dialect.name != "sqlite":
        session.execute(_LOCK_RESIDENT, {"id": resident_id, "tenant": tenant_id})


# ------------------------------------------------------------------------------- renew


def renew(
    session: Session,
    keys: KeyStore,
    *,
    tenant_id: int,
    permit_id: uuid.UUID,
    months: int | None,
    actor: str,
    now: datetime,
    expected_version: int | None = None,
) -> Issued:
    """Extend an active permit from its current end, inside the renewal window; new token."""
    permit = lock_for_change(
        session,
        tenant_id=tenant_id,
        permit_id=permit_id,
        action=Action.RENEW,
        expected_version=expected_version,
    )
    (outcome,) = renew_many(
        session, keys, tenant_id=tenant_id, permits=[permit], months=months, actor=actor, now=now
    )
    if isinstance(outcome, IssuerError):
        raise outcome
    return outcome


def renew_many(
    session: Session,
    keys: KeyStore,
    *,
    tenant_id: int,
    permits: Sequence[Permit],
    months: int | None,
    actor: str,
    now: datetime,
) -> list[Issued | IssuerError]:
    """Renew active permits of one tenant (locked by the caller) for `months` each (default:
    its current duration) from its end: judged against the registry for the new period (the
    renewal window counts, a start in the past does not), charged, extended and signed anew.

    A permit that cannot be renewed gets its error in the answer (in order) and is left as it
    was; the others are written together, each step once for all of them."""
    tenant = session.get(Tenant, tenant_id)
    assert tenant is not None
    rules = tenant_rules(session, tenant_id=tenant_id)
    questions = []
    for permit in permits:
        old_until = as_utc(permit.valid_until)
        span = months or max(1, fees.months_between(as_utc(permit.valid_from), old_until))
        questions.append(
            Question(
                request_of(permit),
                rules[permit.permit_type],
                valid_from=old_until,
                valid_until=add_months(old_until, span),
                exclude_permit=permit.id,
                renewal_of_until=old_until,
            )
        )
    found = gather_many(session, tenant_id=tenant_id, questions=questions, now=now)
    outcomes: list[Issued | IssuerError | None] = []
    schedules: dict[str, object] = {}
    key_ends: dict[str, int | IssuerError] = {}
    renewing: list[tuple[Permit, Change]] = []
    extending: list[tuple[Permit, datetime, int | None, int]] = []
    for permit, question, facts in zip(permits, questions, found, strict=True):
        try:
            if isinstance(facts, IssuerError):
                raise facts
            failed = eligibility.check(facts.application, question.rules)
            failed = [r for r in failed if r is not Rule.STARTS_IN_PAST]
            if failed:
                raise refused(failed)
            kind = permit.permit_type
            if kind not in schedules:
                schedules[kind] = fees.schedule_at(
                    session, tenant_id=tenant_id, permit_type=kind, at=now
                )
            schedule_id, amount = fees.price(
                schedules[kind], _fee_basis(facts, question.valid_from, question.valid_until)
            )
            _check_key_end(keys, tenant, kind, question.valid_until, now, key_ends)
        except IssuerError as exc:
            outcomes.append(exc)
            continue
        extending.append((permit, question.valid_until, schedule_id, amount))
        renewing.append((permit, Change(Event.RENEWED)))
        outcomes.append(None)
    _extend(session, tenant_id, extending, now=now)
    write_changes(session, tenant_id, renewing, actor=actor, now=now)
    texts = iter(
        issue_qr_tokens(session, keys, tenant=tenant, permits=[p for p, _ in renewing], now=now)
    )
    done = iter(renewing)
    return [o if o is not None else Issued(next(done)[0], next(texts)) for o in outcomes]


def _extend(
    session: Session,
    tenant_id: int,
    renewals: Sequence[tuple[Permit, datetime, int | None, int]],
    *,
    now: datetime,
) -> None:
    """The row step of renewals (permit, new end, fee schedule, amount), written with one
    statement per table for all: each permit gets its new end, leaves provisional and moves
    its version by one (only from the version it was read at, like the ORM's version check);
    its renewal charge is recorded. The loaded objects take the written values, so the
    change protocol that follows finds nothing more to write in the row."""
    if not renewals:
        return
    session.flush()
    table = cast(Table, Permit.__table__)
    connection = session.connection()
    values = [
        {"id": permit.id, "version": permit.version, "valid_until": until}
        for permit, until, _, _ in renewals
    ]
    if bulk.is_postgresql(connection):
        # one statement for all: the new ends arrive as one JSON array (issuer/db/bulk.py)
        source, params = bulk.rows_source(table, ("id", "version", "valid_until"), values)
        stmt = (
            table.update()
            .where(table.c.id == source.c.id, table.c.version == source.c.version)
            .values(
                valid_until=source.c.valid_until,
                is_provisional=False,
                updated_at=now,
                version=table.c.version + 1,
            )
        )
        result = connection.execute(stmt, params)
        written: int | None = result.rowcount
    else:
        stmt = (
            table.update()
            .where(table.c.id == bindparam("b_id"), table.c.version == bindparam("b_version"))
            .values(
                valid_until=bindparam("b_until"),
                is_provisional=False,
                updated_at=now,
                version=table.c.version + 1,
            )
        )
        result = connection.execute(
            stmt,
            [
                {"b_id": v["id"], "b_version": v["version"], "b_until": v["valid_until"]}
                for v in values
            ],
        )
        written = result.rowcount if connection.dialect.supports_sane_multi_rowcount else None
    if written is not None and written != len(renewals):
        raise StaleDataError("a renewed permit was changed meanwhile")
    bulk.insert_rows(
        connection,
        cast(Table, PermitCharge.__table__),
        [
            {
                "permit_id": permit.id,
                "tenant_id": tenant_id,
                "reason": ChargeReason.RENEW,
                "fee_schedule_id": schedule_id,
                "amount_cents": amount,
                "created_at": now,
            }
            for permit, _, schedule_id, amount in renewals
        ],
    )
    for permit, until, _, _ in renewals:
        set_committed_value(permit, "valid_until", until)
        set_committed_value(permit, "is_provisional", False)
        set_committed_value(permit, "updated_at", now)
        set_committed_value(permit, "version", permit.version + 1)
        if "charges" in sa_inspect(permit).dict:
            session.expire(permit, ["charges"])  # read again with the new charge when asked


def _check_key_end(
    keys: KeyStore,
    tenant: Tenant,
    kind: str,
    until: datetime,
    now: datetime,
    known: dict[str, int | IssuerError],
) -> None:
    """422 validity_beyond_key when a token ending at `until` would outlive the key that
    signs `kind` (503 no_signing_key when there is none); `known` remembers per kind."""
    end = known.get(kind)
    if end is None:
        try:
            end = known[kind] = keys.key_end(tenant, kind, now)
        except IssuerError as exc:
            end = known[kind] = exc
    if isinstance(end, IssuerError):
        raise end
    if int(until.timestamp()) > end:
        raise InvalidRequest(ErrorCode.VALIDITY_BEYOND_KEY, "the signing key ends earlier")


# ----------------------------------------------------------------------------- replace


def replace(
    session: Session,
    keys: KeyStore,
    *,
    tenant: Tenant,
    permit_id: uuid.UUID,
    reason: str,
    vehicle_ids: Sequence[uuid.UUID] | None = None,
    plates: Sequence[str] | None = None,
    zone_codes: Sequence[str] | None = None,
    actor: str,
    now: datetime,
    expected_version: int | None = None,
) -> Issued:
    """Replace a permit for its remaining term (new plate or vehicle, a move to another zone).

    The old permit becomes `replaced` and its tokens are revoked at once. The plate-correction
    fast path (`reason="plate_correction"`, plates given) skips the vehicle registry checks:
    the wrong plate was our typo, the new token must reach the officer's handheld at once.
    """
    old = lock_for_change(
        session,
        tenant_id=tenant.id,
        permit_id=permit_id,
        action=Action.REPLACE,
        expected_version=expected_version,
    )
    rules = rules_for(session, tenant_id=tenant.id, permit_type=old.permit_type)
    base = request_of(old)
    req = dataclasses.replace(
        base,
        zone_codes=tuple(zone_codes) if zone_codes else base.zone_codes,
        # named plates replace every vehicle (plate correction); vehicles replace the plates
        vehicle_ids=(
            tuple(vehicle_ids)
            if vehicle_ids is not None
            else (() if plates is not None else base.vehicle_ids)
        ),
        plates=tuple(plates) if plates is not None else base.plates,
    )
    valid_from = max(now, as_utc(old.valid_from))
    valid_until = as_utc(old.valid_until)
    # free the old permit's slots first: the replacement takes them over
    ending = Change(
        Event.REPLACED,
        state=PermitState.REPLACED,
        reason=reason,
        ends=True,
        tokens=StatusValue.INVALID,
    )
    set_row(old, ending, now)
    session.flush()
    fast_path = (
        reason == RevocationReason.PLATE_CORRECTION and plates is not None and not vehicle_ids
    )
    # the remaining term was already granted: max validity does not apply again
    check_rules = dataclasses.replace(rules, max_validity_days=10**5)
    if fast_path:
        check_rules = dataclasses.replace(check_rules, requires_vehicle=False)
    facts = _judge(
        session,
        tenant_id=tenant.id,
        question=Question(req, check_rules, valid_from, valid_until, exclude_permit=old.id),
        now=now,
    )
    new = _new_permit(
        session,
        tenant_id=tenant.id,
        request=req,
        facts=facts,
        rules=rules,
        state=PermitState.ACTIVE,
        valid_from=valid_from,
        valid_until=valid_until,
        windows=old.windows,
        now=now,
        use_kind=facts.use_kind or old.use_kind,
        proof_ref=facts.proof_ref or old.proof_ref,
        is_provisional=old.is_provisional,
        legal_basis=old.legal_basis,
        predecessor_id=old.id,
    )
    _add_new(session, new, taken=[Rule.VEHICLE_HAS_PERMIT])
    old.successor_id = new.id
    write_changes(
        session,
        tenant.id,
        [(old, ending), (new, Change(Event.ISSUED, reason=f"replaces:{old.number}"))],
        actor=actor,
        now=now,
    )
    return Issued(permit=new, qr=issue_qr_token(session, keys, permit=new, now=now))


# ---------------------------------------------------------------------------- finalise


def finalise(
    session: Session,
    keys: KeyStore,
    *,
    tenant_id: int,
    permit_id: uuid.UUID,
    months: int | None,
    actor: str,
    now: datetime,
) -> Issued:
    """Turn a provisional permit into the regular one once the application is decided."""
    permit = lock_for_change(
        session, tenant_id=tenant_id, permit_id=permit_id, action=Action.FINALISE
    )
    if not permit.is_provisional:
        raise Conflict(ErrorCode.ILLEGAL_TRANSITION, "not provisional")
    rules = rules_for(session, tenant_id=tenant_id, permit_type=permit.permit_type)
    start = as_utc(permit.valid_from)
    until = add_months(start, months or 12)
    facts = _judge(
        session,
        tenant_id=tenant_id,
        question=Question(request_of(permit), rules, now, until, exclude_permit=permit.id),
        now=now,
    )
    _charge(session, permit, facts, reason=ChargeReason.ISSUE, start=start, until=until, now=now)
    permit.is_provisional = False
    permit.valid_until = until
    write_change(session, permit, Change(Event.FINALISED), actor=actor, now=now)
    qr = None
    if permit.state == PermitState.ACTIVE:
        qr = issue_qr_token(session, keys, permit=permit, now=now)
    return Issued(permit=permit, qr=qr)
