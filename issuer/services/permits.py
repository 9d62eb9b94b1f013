"""Permit lifecycle: apply/issue, pay, suspend, resume, revoke, renew, replace, expire, extend.

States (docs/permits.md): ``awaiting_payment`` → ``active`` ↔ ``suspended`` →
``revoked`` | ``expired`` | ``replaced``. Every change runs in the caller's transaction and
there bumps the permit's `version` (SQLAlchemy's version counter), writes an audit row and,
where tokens are affected, sets their status indices. Every token issued gets its own random
status index (`status_lists.allocate_index`), recorded in `permit_tokens`.

Services take a Session and `now` and raise IssuerError (`PermitError`, `Refused`).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from issuer.db.models import Residence as ResidenceRow
from issuer.db.models import Resident, Tenant, Vehicle, Zone
from issuer.db.permit_models import (
    Permit,
    PermitCharge,
    PermitCounter,
    PermitPlate,
    PermitRuleSet,
    PermitToken,
    PublicationState,
)
from issuer.errors import IssuerError
from issuer.services import audit, eligibility, fees, status_lists
from issuer.services.eligibility import PermitCode, PermitError, Rule, Rules, as_utc, refused

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from issuer.settings import Settings

log = logging.getLogger(__name__)

AWAITING_PAYMENT = "awaiting_payment"
ACTIVE = "active"
SUSPENDED = "suspended"
REVOKED = "revoked"
EXPIRED = "expired"
REPLACED = "replaced"
LEGAL_BASIS_45 = "§45 Abs. 1b StVO"
LEGAL_BASIS_46 = "§46 Abs. 1 Nr. 11 StVO"
LIVE_STATES = (AWAITING_PAYMENT, ACTIVE, SUSPENDED)
END_STATES = (REVOKED, EXPIRED, REPLACED)

# allowed transitions: action -> states it may start from
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "pay": (AWAITING_PAYMENT, ACTIVE, SUSPENDED),
    "suspend": (ACTIVE,),
    "resume": (SUSPENDED,),
    "revoke": LIVE_STATES,
    "renew": (ACTIVE,),
    "replace": (ACTIVE,),
    "finalise": (ACTIVE, AWAITING_PAYMENT),
    "qr": (ACTIVE,),
}

REVOCATION_REASONS = frozenset(
    {
        "moved_out",
        "vehicle_left",
        "misuse",
        "returned",
        "lost",
        "plate_correction",
        "fee_unpaid",
        "error",
        "deceased",
        "other",
    }
)
SUSPENSION_REASONS = frozenset({"fee_unpaid", "investigation", "vehicle_unclear", "other"})


# --------------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class PermitRequest:
    """What a municipal system asks for (`POST /api/v1/permits`)."""

    permit_type: str = "BEW"
    resident_id: uuid.UUID | None = None
    zone_codes: tuple[str, ...] = ()
    vehicle_ids: tuple[uuid.UUID, ...] = ()
    plates: tuple[str, ...] = ()  # BES/HAN/PFL/SON: named plates, not from the registry
    fleet: str | None = None
    holder_label: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    months: int | None = None
    windows: tuple[tuple[int, int, int], ...] = ()
    max_stay_minutes: int | None = None
    provisional: bool = False
    auto_renew: bool = False
    display_required: bool = True


@dataclass(slots=True)
class Issued:
    """A permit just changed, with the QR token issued in the same transaction (if any)."""

    permit: Permit
    qr: str | None = None
    failed: list[Rule] = field(default_factory=list)


# --------------------------------------------------------------------------------- helpers


def _to_dt(value: date | None) -> datetime | None:
    return None if value is None else datetime.combine(value, time(0), tzinfo=UTC)


def rules_for(session: Session, *, tenant_id: int, permit_type: str) -> Rules:
    """The tenant's rules for a permit type, or the defaults."""
    row = session.scalar(
        select(PermitRuleSet).where(
            PermitRuleSet.tenant_id == tenant_id, PermitRuleSet.permit_type == permit_type
        )
    )
    if row is None:
        return eligibility.default_rules(permit_type)
    return Rules.from_dict(row.rules)


def set_rules(
    session: Session,
    *,
    tenant_id: int,
    permit_type: str,
    rules: dict[str, Any],
    actor: str,
    now: datetime,
) -> Rules:
    """Store a tenant's rule set for one permit type (audited)."""
    if permit_type not in eligibility.PERMIT_TYPES:
        raise PermitError(PermitCode.RULES_INVALID, "permit_type")
    try:
        parsed = Rules.from_dict(rules)
    except (TypeError, ValueError) as exc:
        raise PermitError(PermitCode.RULES_INVALID, str(exc)[:200]) from exc
    row = session.scalar(
        select(PermitRuleSet).where(
            PermitRuleSet.tenant_id == tenant_id, PermitRuleSet.permit_type == permit_type
        )
    )
    if row is None:
        row = PermitRuleSet(tenant_id=tenant_id, permit_type=permit_type, rules={}, updated_at=now)
        session.add(row)
    row.rules = parsed.to_dict()
    row.updated_at = now
    session.flush()
    audit.record(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action="permit_rules.set",
        object_type="permit_rules",
        object_id=permit_type,
        now=now,
    )
    return parsed


def touch_publication(session: Session, tenant_id: int) -> None:
    """Bump the tenant's publication version (plate index, trust bundle) in this transaction."""
    result = session.execute(
        update(PublicationState)
        .where(PublicationState.tenant_id == tenant_id)
        .values(version=PublicationState.version + 1)
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        try:
            with session.begin_nested():
                session.add(PublicationState(tenant_id=tenant_id, version=1))
                session.flush()
        except IntegrityError:
            session.execute(
                update(PublicationState)
                .where(PublicationState.tenant_id == tenant_id)
                .values(version=PublicationState.version + 1)
                .execution_options(synchronize_session=False)
            )


def _next_number(session: Session, tenant_id: int) -> int:
    result = session.execute(
        update(PermitCounter)
        .where(PermitCounter.tenant_id == tenant_id)
        .values(next_number=PermitCounter.next_number + 1)
        .returning(PermitCounter.next_number)
    ).first()
    if result is not None:
        return int(result[0]) - 1
    try:
        with session.begin_nested():
            session.add(PermitCounter(tenant_id=tenant_id, next_number=2))
            session.flush()
        return 1
    except IntegrityError:
        return _next_number(session, tenant_id)


def _audit(
    session: Session, permit: Permit, action: str, actor: str, now: datetime, reason: str | None
) -> None:
    audit.record(
        session,
        tenant_id=permit.tenant_id,
        actor=actor,
        action=f"permit.{action}",
        object_type="permit",
        object_id=str(permit.id),
        reason=reason,
        now=now,
    )


def get_permit(
    session: Session, *, tenant_id: int, permit_id: uuid.UUID, for_update: bool = False
) -> Permit:
    """A permit of this tenant (row-locked for a change), else 404 permit_not_found."""
    stmt = select(Permit).where(Permit.id == permit_id, Permit.tenant_id == tenant_id)
    if for_update:
        status_lists.lock_tenant(session, tenant_id)
        stmt = stmt.with_for_update()
    permit = session.scalar(stmt)
    if permit is None:
        raise PermitError(PermitCode.PERMIT_NOT_FOUND)
    if for_update:
        session.refresh(permit)
    return permit


def _require(permit: Permit, action: str, expected_version: int | None = None) -> None:
    if expected_version is not None and permit.version != expected_version:
        raise PermitError(PermitCode.STALE_VERSION)
    if permit.state not in TRANSITIONS[action]:
        raise PermitError(PermitCode.ILLEGAL_TRANSITION, f"{action} from {permit.state}")


def tokens_of(session: Session, permit: Permit) -> list[PermitToken]:
    """Every token ever issued for a permit."""
    return list(
        session.scalars(
            select(PermitToken).where(PermitToken.permit_id == permit.id).order_by(PermitToken.id)
        )
    )


def _set_token_status(
    session: Session, permit: Permit, value: int, only_from: int | None = None
) -> None:
    entries = [(t.list_no, t.idx) for t in tokens_of(session, permit)]
    if entries:
        status_lists.set_statuses(
            session, tenant_id=permit.tenant_id, entries=entries, value=value, only_from=only_from
        )


def _release_locks(permit: Permit) -> None:
    permit.exclusive_key = None
    for plate in permit.plates:
        plate.lock_key = None


def _canonical_plates(plates: Sequence[str]) -> list[str]:
    from verifier import VerifierError, canonical_plate

    out = []
    for plate in plates:
        try:
            out.append(canonical_plate(plate))
        except VerifierError as exc:
            raise PermitError(PermitCode.INVALID_PLATE) from exc
    return out


def _validate_windows(windows: Sequence[Sequence[int]]) -> list[list[int]]:
    out = []
    for window in windows:
        if len(window) != 3:
            raise PermitError(PermitCode.INVALID_WINDOWS)
        days, start, end = (int(x) for x in window)
        if not (1 <= days <= 127 and 0 <= start < end <= 1440):
            raise PermitError(PermitCode.INVALID_WINDOWS)
        out.append([days, start, end])
    return out


def _expire_due(session: Session, tenant_id: int, permits: Sequence[Permit], now: datetime) -> None:
    for permit in permits:
        if (
            permit.state in (ACTIVE, SUSPENDED, AWAITING_PAYMENT)
            and as_utc(permit.valid_until) <= now
        ):
            _expire(session, permit, now)


def _expire(session: Session, permit: Permit, now: datetime) -> None:
    permit.state = EXPIRED
    permit.ended_at = now
    _release_locks(permit)
    permit.updated_at = now
    session.flush()
    _audit(session, permit, "expired", "system", now, None)
    touch_publication(session, permit.tenant_id)


# ----------------------------------------------------------------------------- gathering


@dataclass(slots=True)
class _Facts:
    application: eligibility.Application
    plates: list[tuple[str, uuid.UUID | None]]
    vehicles: list[Vehicle]
    zone_codes: list[str]
    use_kind: str | None
    proof_ref: str | None


def _zone(session: Session, tenant_id: int, code: str) -> Zone | None:
    from verifier import VerifierError, canonical_zone

    try:
        code = canonical_zone(code)
    except VerifierError:
        return None
    return session.scalar(select(Zone).where(Zone.tenant_id == tenant_id, Zone.code == code))


def _gather(
    session: Session,
    *,
    tenant_id: int,
    req: PermitRequest,
    rules: Rules,
    valid_from: datetime,
    valid_until: datetime,
    now: datetime,
    exclude_permit: uuid.UUID | None = None,
    renewal_of_until: datetime | None = None,
) -> _Facts:
    residences: list[eligibility.Residence] = []
    if req.resident_id is not None:
        resident = session.get(Resident, req.resident_id)
        if resident is None or resident.tenant_id != tenant_id:
            raise PermitError(PermitCode.NOT_FOUND, "resident")
        rows = session.scalars(
            select(ResidenceRow).where(ResidenceRow.resident_id == resident.id)
        ).all()
        residences = [
            eligibility.Residence(
                kind=r.kind,
                street=r.street,
                house_number=r.house_number,
                valid_from=_to_dt(r.valid_from),
                valid_until=_to_dt(r.valid_until),
            )
            for r in rows
        ]
    elif rules.requires_residence:
        raise PermitError(PermitCode.NOT_FOUND, "resident")

    segments: list[eligibility.Segment] = []
    zone_codes: list[str] = []
    for code in req.zone_codes:
        zone = _zone(session, tenant_id, code)
        if zone is None:
            raise PermitError(PermitCode.NOT_FOUND, "zone")
        zone_codes.append(zone.code)
        segments.extend(
            eligibility.Segment(s.street, s.number_from, s.number_to, s.parity)
            for s in zone.segments
        )
    if not zone_codes:
        raise PermitError(PermitCode.NOT_FOUND, "zone")

    vehicles: list[Vehicle] = []
    facts_vehicles: list[eligibility.Vehicle] = []
    plates: list[tuple[str, uuid.UUID | None]] = []
    for vehicle_id in req.vehicle_ids:
        vehicle = session.get(Vehicle, vehicle_id)
        if vehicle is None or vehicle.tenant_id != tenant_id:
            raise PermitError(PermitCode.NOT_FOUND, "vehicle")
        vehicles.append(vehicle)
        is_holder = req.resident_id is not None and vehicle.holder_id == req.resident_id
        facts_vehicles.append(
            eligibility.Vehicle(
                plate=vehicle.plate,
                is_holder=is_holder and vehicle.kind == "own",
                use_kind=vehicle.kind,
                proof_ref=vehicle.proof_ref if is_holder or vehicle.kind != "own" else None,
                vehicle_class=vehicle.vehicle_class,
                length_mm=vehicle.length_mm,
                width_mm=vehicle.width_mm,
                valid_until=_to_dt(vehicle.valid_until),
            )
        )
        plates.append((vehicle.plate, vehicle.id))
    for plate in _canonical_plates(req.plates):
        facts_vehicles.append(eligibility.Vehicle(plate=plate, is_holder=False, use_kind="hire"))
        plates.append((plate, None))
    if rules.requires_vehicle and req.plates and not req.vehicle_ids:
        # a resident permit names registry vehicles, never free plates
        facts_vehicles = [
            eligibility.Vehicle(plate=p, is_holder=False, use_kind="own") for p, _ in plates
        ]

    resident_has_permit = False
    visitor_count = 0
    if req.resident_id is not None:
        stmt = select(Permit).where(
            Permit.tenant_id == tenant_id,
            Permit.resident_id == req.resident_id,
            Permit.permit_type == req.permit_type,
            Permit.state.in_(LIVE_STATES),
        )
        live = [p for p in session.scalars(stmt) if p.id != exclude_permit]
        _expire_due(session, tenant_id, live, now)
        resident_has_permit = any(p.state in LIVE_STATES for p in live)
        if req.permit_type == "BES":
            year_start = datetime(now.year, 1, 1, tzinfo=UTC)
            visitor_count = int(
                session.scalar(
                    select(func.count(Permit.id)).where(
                        Permit.tenant_id == tenant_id,
                        Permit.resident_id == req.resident_id,
                        Permit.permit_type == "BES",
                        Permit.created_at >= year_start,
                    )
                )
                or 0
            )
    plate_values = [p for p, _ in plates]
    taken: set[str] = set()
    if plate_values:
        stmt2 = (
            select(Permit)
            .join(PermitPlate, PermitPlate.permit_id == Permit.id)
            .where(
                PermitPlate.tenant_id == tenant_id,
                PermitPlate.permit_type == req.permit_type,
                PermitPlate.lock_key.in_(plate_values),
            )
        )
        holders = [p for p in session.scalars(stmt2) if p.id != exclude_permit]
        _expire_due(session, tenant_id, holders, now)
        for permit in holders:
            if permit.state in LIVE_STATES:
                taken.update(pl.plate for pl in permit.plates if pl.lock_key)

    use_kind = vehicles[0].kind if vehicles else None
    proof_ref = vehicles[0].proof_ref if vehicles else None
    application = eligibility.Application(
        permit_type=req.permit_type,
        now=now,
        valid_from=valid_from,
        valid_until=valid_until,
        residences=tuple(residences),
        segments=tuple(segments),
        vehicles=tuple(facts_vehicles),
        fleet=req.fleet,
        windows=tuple(tuple(w) for w in req.windows),  # type: ignore[misc]
        resident_has_permit=resident_has_permit,
        plates_with_permit=frozenset(taken),
        renewal_of_until=renewal_of_until,
        visitor_permits_this_year=visitor_count,
        is_provisional=req.provisional,
    )
    return _Facts(application, plates, vehicles, zone_codes, use_kind, proof_ref)


def _validity(req: PermitRequest, rules: Rules, now: datetime) -> tuple[datetime, datetime]:
    start = as_utc(req.valid_from) if req.valid_from else now
    if req.valid_until is not None:
        return start, as_utc(req.valid_until)
    if req.provisional:
        return start, start + timedelta(days=rules.provisional_days)
    if req.months is not None:
        return start, _add_months(start, req.months)
    days = 1 if req.permit_type == "BES" else rules.max_validity_days
    if req.permit_type != "BES" and rules.max_validity_days >= 365:
        return start, _add_months(start, 12)
    return start, start + timedelta(days=days)


def _add_months(start: datetime, months: int) -> datetime:
    month0 = start.month - 1 + months
    year, month = start.year + month0 // 12, month0 % 12 + 1
    import calendar

    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def _fee_basis(facts: _Facts, valid_from: datetime, valid_until: datetime) -> fees.FeeBasis:
    length = facts.vehicles[0].length_mm if facts.vehicles else None
    width = facts.vehicles[0].width_mm if facts.vehicles else None
    return fees.FeeBasis(
        months=fees.months_between(valid_from, valid_until), length_mm=length, width_mm=width
    )


# ------------------------------------------------------------------------------ issuance


def _charge(
    session: Session,
    permit: Permit,
    facts: _Facts,
    *,
    reason: str,
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


def apply(
    session: Session,
    settings: Settings,
    *,
    tenant: Tenant,
    request: PermitRequest,
    actor: str,
    now: datetime,
) -> Issued:
    """Check eligibility and issue (or put into awaiting_payment); 422 with every failed rule."""
    req = request
    if req.permit_type not in eligibility.PERMIT_TYPES:
        raise PermitError(PermitCode.RULES_INVALID, "permit_type")
    rules = rules_for(session, tenant_id=tenant.id, permit_type=req.permit_type)
    windows = _validate_windows(req.windows)
    if req.resident_id is not None:
        _lock_resident(session, tenant.id, req.resident_id)
    status_lists.lock_tenant(session, tenant.id)
    valid_from, valid_until = _validity(req, rules, now)
    facts = _gather(
        session,
        tenant_id=tenant.id,
        req=req,
        rules=rules,
        valid_from=valid_from,
        valid_until=valid_until,
        now=now,
    )
    failed = eligibility.check(facts.application, rules)
    if failed:
        raise refused(failed)
    schedule_id, amount = (None, 0)
    if not req.provisional:
        schedule_id, amount = fees.fee_for(
            session,
            tenant_id=tenant.id,
            permit_type=req.permit_type,
            at=now,
            basis=_fee_basis(facts, valid_from, valid_until),
        )
    state = AWAITING_PAYMENT if (rules.awaiting_payment and amount > 0) else ACTIVE
    permit = Permit(
        id=uuid.uuid4(),
        tenant_id=tenant.id,
        number=_next_number(session, tenant.id),
        permit_type=req.permit_type,
        state=state,
        resident_id=req.resident_id,
        holder_label=req.holder_label,
        zone_codes=facts.zone_codes,
        fleet=req.fleet,
        use_kind=facts.use_kind,
        proof_ref=facts.proof_ref,
        max_stay_minutes=req.max_stay_minutes or rules.default_max_stay_minutes,
        windows=windows or None,
        valid_from=valid_from,
        valid_until=valid_until,
        is_provisional=req.provisional,
        auto_renew=req.auto_renew,
        display_required=req.display_required,
        legal_basis="§46 Abs. 1 Nr. 11 StVO"
        if req.permit_type in ("HAN", "PFL")
        else "§45 Abs. 1b StVO",
        exclusive_key=(
            str(req.resident_id) if rules.one_per_resident and req.resident_id else None
        ),
        created_at=now,
        updated_at=now,
    )
    permit.plates = [
        PermitPlate(
            tenant_id=tenant.id,
            permit_type=req.permit_type,
            position=i,
            plate=plate,
            vehicle_id=vehicle_id,
            lock_key=plate if rules.one_per_vehicle else None,
        )
        for i, (plate, vehicle_id) in enumerate(facts.plates)
    ]
    permit.charges = [
        PermitCharge(
            tenant_id=tenant.id,
            reason="issue",
            fee_schedule_id=schedule_id,
            amount_cents=amount,
            created_at=now,
        )
    ]
    try:
        with session.begin_nested():
            session.add(permit)
            session.flush()
    except IntegrityError as exc:
        # a concurrent issuance took the resident's or the plate's slot after our check
        raise refused([Rule.RESIDENT_HAS_PERMIT, Rule.VEHICLE_HAS_PERMIT]) from exc
    _audit(session, permit, "issued", actor, now, "provisional" if req.provisional else None)
    touch_publication(session, tenant.id)
    qr = None
    if permit.state == ACTIVE:
        qr = issue_qr_token(session, settings, permit=permit, now=now)
    log.info("permit_issued", extra={"tenant": tenant.ags, "permit_no": permit.number})
    return Issued(permit=permit, qr=qr)


def _lock_resident(session: Session, tenant_id: int, resident_id: uuid.UUID) -> None:
    """Serialise applications of one resident (PostgreSQL row lock; SQLite locks the file)."""
    session.execute(
        select(Resident.id)
        .where(Resident.id == resident_id, Resident.tenant_id == tenant_id)
        .with_for_update()
    )


# -------------------------------------------------------------------------------- tokens


def issue_qr_token(session: Session, settings: Settings, *, permit: Permit, now: datetime) -> str:
    """Sign and record a new QR token (`BID1:`…) for an active permit, with its own index."""
    from issuer.services import qr as qr_service

    if permit.state != ACTIVE:
        raise PermitError(PermitCode.ILLEGAL_TRANSITION, f"qr from {permit.state}")
    tenant = session.get(Tenant, permit.tenant_id)
    assert tenant is not None
    iat = int(now.timestamp())
    exp = int(as_utc(permit.valid_until).timestamp())
    _check_key_outlives(settings, tenant, permit.permit_type, exp, now)
    status_lists.lock_tenant(session, permit.tenant_id)
    list_no, idx = status_lists.allocate_index(
        session, tenant_id=permit.tenant_id, now=now, size=settings.status_list_size
    )
    text = qr_service.encode_permit_qr(
        settings,
        tenant=tenant,
        permit=permit,
        list_no=list_no,
        idx=idx,
        iat=iat,
        exp=exp,
        now=now,
    )
    session.add(
        PermitToken(
            tenant_id=permit.tenant_id,
            permit_id=permit.id,
            permit_version=permit.version,
            list_no=list_no,
            idx=idx,
            kind="qr",
            iat=iat,
            exp=exp,
            text=text,
            created_at=now,
        )
    )
    session.flush()
    return text


def _check_key_outlives(
    settings: Settings, tenant: Tenant, permit_type: str, exp: int, now: datetime
) -> None:
    """A token must never outlive the key that signs it (else a handheld answers
    `key_not_valid` for a permit that is still valid)."""
    from issuer.services.signing import signing_key_exp

    if exp > signing_key_exp(settings, tenant, now, permit_type):
        raise PermitError(PermitCode.VALIDITY_BEYOND_KEY, "the signing key ends earlier")


def record_token(
    session: Session,
    *,
    permit: Permit,
    list_no: int,
    idx: int,
    kind: str,
    iat: int,
    exp: int,
    now: datetime,
) -> PermitToken:
    """Record a token issued elsewhere (the wallet's SD-JWT VCs) against its permit."""
    token = PermitToken(
        tenant_id=permit.tenant_id,
        permit_id=permit.id,
        permit_version=permit.version,
        list_no=list_no,
        idx=idx,
        kind=kind,
        iat=iat,
        exp=exp,
        created_at=now,
    )
    session.add(token)
    session.flush()
    return token


def current_qr(session: Session, settings: Settings, *, permit: Permit, now: datetime) -> str:
    """The QR text of the current permit version; a new token only when there is none."""
    token = session.scalar(
        select(PermitToken)
        .where(
            PermitToken.permit_id == permit.id,
            PermitToken.kind == "qr",
            PermitToken.permit_version == permit.version,
            PermitToken.text.is_not(None),
        )
        .order_by(PermitToken.id.desc())
        .limit(1)
    )
    if permit.state != ACTIVE:
        raise PermitError(PermitCode.ILLEGAL_TRANSITION, f"qr from {permit.state}")
    if token is not None and token.text is not None and token.exp > int(now.timestamp()):
        return token.text
    return issue_qr_token(session, settings, permit=permit, now=now)


# ----------------------------------------------------------------------------- lifecycle


def record_payment(
    session: Session,
    settings: Settings,
    *,
    tenant_id: int,
    permit_id: uuid.UUID,
    amount_cents: int,
    payment_ref: str,
    actor: str,
    now: datetime,
) -> Issued:
    """The payment provider's callback: marks the open charge paid, activates the permit."""
    permit = get_permit(session, tenant_id=tenant_id, permit_id=permit_id, for_update=True)
    _require(permit, "pay")
    open_charges = [c for c in permit.charges if c.paid_at is None]
    if not open_charges:
        # a repeated callback with the same reference is answered, not refused
        if any(c.payment_ref == payment_ref for c in permit.charges):
            return Issued(permit=permit)
        raise PermitError(PermitCode.ILLEGAL_TRANSITION, "nothing to pay")
    charge = open_charges[-1]
    if charge.amount_cents != amount_cents:
        raise PermitError(PermitCode.PAYMENT_MISMATCH)
    charge.paid_at = now
    charge.payment_ref = payment_ref
    qr = None
    if permit.state == AWAITING_PAYMENT:
        permit.state = ACTIVE
    permit.updated_at = now
    session.flush()
    _audit(session, permit, "paid", actor, now, None)
    touch_publication(session, tenant_id)
    if permit.state == ACTIVE and not tokens_of(session, permit):
        qr = issue_qr_token(session, settings, permit=permit, now=now)
    return Issued(permit=permit, qr=qr)


def suspend(
    session: Session,
    *,
    tenant_id: int,
    permit_id: uuid.UUID,
    reason: str,
    actor: str,
    now: datetime,
    expected_version: int | None = None,
) -> Permit:
    """active → suspended; every token index of the permit becomes SUSPENDED (2)."""
    permit = get_permit(session, tenant_id=tenant_id, permit_id=permit_id, for_update=True)
    _require(permit, "suspend", expected_version)
    _change_state(
        session, permit, state=SUSPENDED, reason=reason, action="suspended", actor=actor,
        now=now, status=status_lists.SUSPENDED, only_from=status_lists.VALID,
    )  # fmt: skip
    return permit


def resume(
    session: Session,
    *,
    tenant_id: int,
    permit_id: uuid.UUID,
    actor: str,
    now: datetime,
    expected_version: int | None = None,
) -> Permit:
    """suspended → active; the token indices go back to VALID (0)."""
    permit = get_permit(session, tenant_id=tenant_id, permit_id=permit_id, for_update=True)
    _require(permit, "resume", expected_version)
    _change_state(
        session, permit, state=ACTIVE, reason=None, action="resumed", actor=actor,
        now=now, status=status_lists.VALID, only_from=status_lists.SUSPENDED,
    )  # fmt: skip
    return permit


def revoke(
    session: Session,
    *,
    tenant_id: int,
    permit_id: uuid.UUID,
    reason: str,
    actor: str,
    now: datetime,
    expected_version: int | None = None,
) -> Permit:
    """Any live state → revoked with a reason code; every token index becomes INVALID (1)."""
    permit = get_permit(session, tenant_id=tenant_id, permit_id=permit_id, for_update=True)
    _require(permit, "revoke", expected_version)
    _revoke(session, permit, reason=reason, actor=actor, now=now)
    return permit


def _revoke(session: Session, permit: Permit, *, reason: str, actor: str, now: datetime) -> None:
    _change_state(
        session, permit, state=REVOKED, reason=reason, action="revoked", actor=actor,
        now=now, status=status_lists.INVALID, ends=True,
    )  # fmt: skip


def _change_state(
    session: Session,
    permit: Permit,
    *,
    state: str,
    reason: str | None,
    action: str,
    actor: str,
    now: datetime,
    status: int,
    only_from: int | None = None,
    ends: bool = False,
) -> None:
    """One state change: the permit row, then every token's status, audit and publication.

    `ends` also records the end and frees the one-per-resident/vehicle locks. Every field is
    set before the first flush (loading the plates autoflushes), so the version moves by one.
    """
    permit.state = state
    permit.state_reason = reason
    permit.updated_at = now
    if ends:
        permit.ended_at = now
        _release_locks(permit)
    session.flush()
    _set_token_status(session, permit, status, only_from=only_from)
    _audit(session, permit, action, actor, now, reason)
    touch_publication(session, permit.tenant_id)


def renew(
    session: Session,
    settings: Settings,
    *,
    tenant_id: int,
    permit_id: uuid.UUID,
    months: int | None,
    actor: str,
    now: datetime,
    expected_version: int | None = None,
) -> Issued:
    """Extend an active permit from its current end, inside the renewal window; new token."""
    permit = get_permit(session, tenant_id=tenant_id, permit_id=permit_id, for_update=True)
    _require(permit, "renew", expected_version)
    rules = rules_for(session, tenant_id=tenant_id, permit_type=permit.permit_type)
    old_until = as_utc(permit.valid_until)
    if months is None:
        months = max(1, fees.months_between(as_utc(permit.valid_from), old_until))
    new_until = _add_months(old_until, months)
    req = _request_of(permit)
    facts = _gather(
        session,
        tenant_id=tenant_id,
        req=req,
        rules=rules,
        valid_from=old_until,
        valid_until=new_until,
        now=now,
        exclude_permit=permit.id,
        renewal_of_until=old_until,
    )
    # the renewal is checked for its new period: max validity counts from the old end
    failed = eligibility.check(facts.application, rules)
    failed = [f for f in failed if f is not Rule.STARTS_IN_PAST]
    if failed:
        raise refused(failed)
    _charge(session, permit, facts, reason="renew", start=old_until, until=new_until, now=now)
    permit.valid_until = new_until
    permit.is_provisional = False
    permit.updated_at = now
    session.flush()
    _audit(session, permit, "renewed", actor, now, None)
    touch_publication(session, tenant_id)
    qr = issue_qr_token(session, settings, permit=permit, now=now)
    return Issued(permit=permit, qr=qr)


def _request_of(permit: Permit) -> PermitRequest:
    return PermitRequest(
        permit_type=permit.permit_type,
        resident_id=permit.resident_id,
        zone_codes=tuple(permit.zone_codes),
        vehicle_ids=tuple(p.vehicle_id for p in permit.plates if p.vehicle_id is not None),
        plates=tuple(p.plate for p in permit.plates if p.vehicle_id is None),
        fleet=permit.fleet,
        holder_label=permit.holder_label,
        windows=tuple(tuple(w) for w in (permit.windows or ())),  # type: ignore[misc]
        max_stay_minutes=permit.max_stay_minutes,
        auto_renew=permit.auto_renew,
        display_required=permit.display_required,
    )


def replace(
    session: Session,
    settings: Settings,
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
    old = get_permit(session, tenant_id=tenant.id, permit_id=permit_id, for_update=True)
    _require(old, "replace", expected_version)
    rules = rules_for(session, tenant_id=tenant.id, permit_type=old.permit_type)
    base = _request_of(old)
    req = PermitRequest(
        permit_type=base.permit_type,
        resident_id=base.resident_id,
        zone_codes=tuple(zone_codes) if zone_codes else base.zone_codes,
        # named plates replace every vehicle (plate correction); vehicles replace the plates
        vehicle_ids=(
            tuple(vehicle_ids)
            if vehicle_ids is not None
            else (() if plates is not None else base.vehicle_ids)
        ),
        plates=tuple(plates) if plates is not None else base.plates,
        fleet=base.fleet,
        holder_label=base.holder_label,
        windows=base.windows,
        max_stay_minutes=base.max_stay_minutes,
        auto_renew=base.auto_renew,
        display_required=base.display_required,
    )
    valid_from = max(now, as_utc(old.valid_from))
    valid_until = as_utc(old.valid_until)
    # free the old permit's slots first: the replacement takes them over
    _release_locks(old)
    old.state = REPLACED
    old.state_reason = reason
    old.ended_at = now
    old.updated_at = now
    session.flush()
    fast_path = reason == "plate_correction" and plates is not None and not vehicle_ids
    # the remaining term was already granted: max validity does not apply again
    check_rules = dataclasses.replace(rules, max_validity_days=10**5)
    if fast_path:
        check_rules = dataclasses.replace(check_rules, requires_vehicle=False)
    facts = _gather(
        session,
        tenant_id=tenant.id,
        req=req,
        rules=check_rules,
        valid_from=valid_from,
        valid_until=valid_until,
        now=now,
        exclude_permit=old.id,
    )
    failed = eligibility.check(facts.application, check_rules)
    if failed:
        raise refused(failed)
    new = Permit(
        id=uuid.uuid4(),
        tenant_id=tenant.id,
        number=_next_number(session, tenant.id),
        permit_type=old.permit_type,
        state=ACTIVE,
        resident_id=old.resident_id,
        holder_label=old.holder_label,
        zone_codes=facts.zone_codes,
        fleet=old.fleet,
        use_kind=facts.use_kind or old.use_kind,
        proof_ref=facts.proof_ref or old.proof_ref,
        max_stay_minutes=old.max_stay_minutes,
        windows=old.windows,
        valid_from=valid_from,
        valid_until=valid_until,
        is_provisional=old.is_provisional,
        auto_renew=old.auto_renew,
        display_required=old.display_required,
        legal_basis=old.legal_basis,
        exclusive_key=str(old.resident_id) if rules.one_per_resident and old.resident_id else None,
        predecessor_id=old.id,
        created_at=now,
        updated_at=now,
    )
    new.plates = [
        PermitPlate(
            tenant_id=tenant.id,
            permit_type=old.permit_type,
            position=i,
            plate=plate,
            vehicle_id=vehicle_id,
            lock_key=plate if rules.one_per_vehicle else None,
        )
        for i, (plate, vehicle_id) in enumerate(facts.plates)
    ]
    try:
        with session.begin_nested():
            session.add(new)
            session.flush()
    except IntegrityError as exc:
        raise refused([Rule.VEHICLE_HAS_PERMIT]) from exc
    old.successor_id = new.id
    session.flush()
    _set_token_status(session, old, status_lists.INVALID)
    _audit(session, old, "replaced", actor, now, reason)
    _audit(session, new, "issued", actor, now, f"replaces:{old.number}")
    touch_publication(session, tenant.id)
    qr = issue_qr_token(session, settings, permit=new, now=now)
    return Issued(permit=new, qr=qr)


def finalise(
    session: Session,
    settings: Settings,
    *,
    tenant_id: int,
    permit_id: uuid.UUID,
    months: int | None,
    actor: str,
    now: datetime,
) -> Issued:
    """Turn a provisional permit into the regular one once the application is decided."""
    permit = get_permit(session, tenant_id=tenant_id, permit_id=permit_id, for_update=True)
    _require(permit, "finalise")
    if not permit.is_provisional:
        raise PermitError(PermitCode.ILLEGAL_TRANSITION, "not provisional")
    rules = rules_for(session, tenant_id=tenant_id, permit_type=permit.permit_type)
    start = as_utc(permit.valid_from)
    until = _add_months(start, months) if months else _add_months(start, 12)
    req = _request_of(permit)
    facts = _gather(
        session,
        tenant_id=tenant_id,
        req=req,
        rules=rules,
        valid_from=now,
        valid_until=until,
        now=now,
        exclude_permit=permit.id,
    )
    failed = eligibility.check(facts.application, rules)
    if failed:
        raise refused(failed)
    _charge(session, permit, facts, reason="issue", start=start, until=until, now=now)
    permit.is_provisional = False
    permit.valid_until = until
    permit.updated_at = now
    session.flush()
    _audit(session, permit, "finalised", actor, now, None)
    touch_publication(session, tenant_id)
    qr = (
        issue_qr_token(session, settings, permit=permit, now=now)
        if permit.state == ACTIVE
        else None
    )
    return Issued(permit=permit, qr=qr)


# ---------------------------------------------------------------------------------- jobs


def expire_due(session: Session, *, tenant_id: int | None = None, now: datetime) -> int:
    """Mark live permits past their end as expired (a job; also done lazily)."""
    stmt = select(Permit).where(Permit.state.in_(LIVE_STATES), Permit.valid_until <= now)
    if tenant_id is not None:
        status_lists.lock_tenant(session, tenant_id)
        stmt = stmt.where(Permit.tenant_id == tenant_id)
    count = 0
    for permit in session.scalars(stmt.with_for_update()).all():
        _expire(session, permit, now)
        count += 1
    return count


def auto_renew(
    session: Session, settings: Settings, *, tenant_id: int, actor: str, now: datetime
) -> dict[str, int]:
    """Renew permits with `auto_renew` that are due (the tenant's `auto_renew_days_before`).

    A permit whose renewal is refused is flagged (`auto_renew_refused`) and audited; the rest
    of the batch continues (each renewal in its own savepoint).
    """
    renewed = refused_count = 0
    candidates = session.scalars(
        select(Permit).where(
            Permit.tenant_id == tenant_id,
            Permit.state == ACTIVE,
            Permit.auto_renew.is_(True),
            Permit.valid_until > now,
        )
    ).all()
    for permit in candidates:
        rules = rules_for(session, tenant_id=tenant_id, permit_type=permit.permit_type)
        due_from = as_utc(permit.valid_until) - timedelta(
            days=min(rules.auto_renew_days_before, rules.renewal_window_days)
        )
        if now < due_from:
            continue
        try:
            with session.begin_nested():
                renew(
                    session,
                    settings,
                    tenant_id=tenant_id,
                    permit_id=permit.id,
                    months=None,
                    actor=actor,
                    now=now,
                )
            renewed += 1
        except IssuerError as exc:  # refused: flag, audit, go on with the next permit
            session.refresh(permit)
            permit.flagged = "auto_renew_refused"
            permit.updated_at = now
            session.flush()
            _audit(
                session,
                permit,
                "auto_renew_refused",
                actor,
                now,
                ",".join(e.get("code", "") for e in exc.errors),
            )
            refused_count += 1
    return {"renewed": renewed, "refused": refused_count}


def extend_validity(
    session: Session,
    settings: Settings,
    *,
    tenant_id: int,
    permit_type: str,
    ending_from: datetime,
    ending_before: datetime,
    new_until: datetime,
    reason: str,
    actor: str,
    now: datetime,
) -> list[uuid.UUID]:
    """Tenant-wide: permits ending in [from, before) stay valid until `new_until` (Münster).

    Expired permits in that range come back to active (unless their resident or plate holds
    another live permit meanwhile). New QR tokens are issued when fetched next.

    Bounded like a new permit: `new_until` at most the type's maximum validity after `now`
    (422 extension_too_long), and not after the end of the keys that sign the type's QR
    tokens and the wallet's credentials now (422 validity_beyond_key).
    """
    if new_until <= ending_from:
        raise PermitError(PermitCode.ILLEGAL_TRANSITION, "new_until")
    rules = rules_for(session, tenant_id=tenant_id, permit_type=permit_type)
    max_days = rules.max_validity_days
    if permit_type == "BES":
        max_days = min(max_days, rules.visitor_max_days)
    if new_until > now + timedelta(days=max_days):
        raise PermitError(PermitCode.EXTENSION_TOO_LONG, f"at most {max_days} days from now")
    tenant = session.get(Tenant, tenant_id)
    assert tenant is not None
    until = int(new_until.timestamp())
    _check_key_outlives(settings, tenant, permit_type, until, now)
    try:  # the wallet's credentials of these permits, where the tenant issues any
        _check_key_outlives(settings, tenant, "credential", until, now)
    except PermitError as exc:
        if str(exc.code) != PermitCode.NO_SIGNING_KEY:
            raise
    status_lists.lock_tenant(session, tenant_id)
    rows = session.scalars(
        select(Permit)
        .where(
            Permit.tenant_id == tenant_id,
            Permit.permit_type == permit_type,
            Permit.state.in_((ACTIVE, SUSPENDED, EXPIRED)),
            Permit.valid_until >= ending_from,
            Permit.valid_until < ending_before,
        )
        .with_for_update()
    ).all()
    changed: list[uuid.UUID] = []
    for permit in rows:
        if as_utc(permit.valid_until) >= new_until:
            continue
        try:
            with session.begin_nested():
                if permit.state == EXPIRED:
                    permit.state = ACTIVE
                    permit.ended_at = None
                    if rules.one_per_resident and permit.resident_id:
                        permit.exclusive_key = str(permit.resident_id)
                    for plate in permit.plates:
                        plate.lock_key = plate.plate if rules.one_per_vehicle else None
                permit.valid_until = new_until
                permit.updated_at = now
                session.flush()
        except IntegrityError:
            session.refresh(permit)
            continue
        _audit(session, permit, "validity_extended", actor, now, reason)
        changed.append(permit.id)
    if changed:
        touch_publication(session, tenant_id)
    audit.record(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action="permits.validity_extended",
        object_type="tenant",
        object_id=str(tenant_id),
        reason=f"{reason}; count={len(changed)}",
        now=now,
    )
    return changed


def list_permits(
    session: Session,
    *,
    tenant_id: int,
    state: str | None = None,
    resident_id: uuid.UUID | None = None,
    plate: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Permit]:
    """A tenant's permits; residents with a register block are never listed."""
    stmt = (
        select(Permit)
        .outerjoin(Resident, Resident.id == Permit.resident_id)
        .where(Permit.tenant_id == tenant_id)
        .where((Resident.id.is_(None)) | (Resident.register_block.is_(False)))
    )
    if state is not None:
        stmt = stmt.where(Permit.state == state)
    if resident_id is not None:
        stmt = stmt.where(Permit.resident_id == resident_id)
    if plate is not None:
        plates = _canonical_plates([plate])
        stmt = stmt.join(PermitPlate, PermitPlate.permit_id == Permit.id).where(
            PermitPlate.plate == plates[0]
        )
    stmt = (
        stmt.options(selectinload(Permit.plates), selectinload(Permit.charges))
        .order_by(Permit.number)
        .limit(min(limit, 1000))
        .offset(offset)
    )
    return list(session.scalars(stmt))
