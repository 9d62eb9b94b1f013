"""What the portal does for the citizen who is logged in, through the public permit
services (issuer/services/permits) and the wallet services. Every function takes her
resident id: a permit, vehicle or device of anyone else is "not found" (404), exactly as
one that does not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from issuer.db.models import Residence, Tenant, Vehicle, Zone
from issuer.db.permit_models import Permit
from issuer.errors import ErrorCode, IssuerError, NotFound, Refused
from issuer.services import eligibility, fees, permits
from issuer.services.clock import as_utc
from issuer.services.permits import PermitState, RevocationReason
from issuer.services.permits.rules import validity
from issuer.services.signing import KeyStore
from issuer.vocabulary import ResidenceKind
from verifier import PermitType
from wallet_api.services.configurations import PERMIT_QR
from wallet_api.services.offer_references import create_reference, offer_uri_for
from wallet_api.services.offers import create_offer, offer_url_by_reference
from wallet_api.services.policy import WalletPolicy
from wallet_api.services.sd_jwt_vc import PARKING_PERMIT

BERLIN = ZoneInfo("Europe/Berlin")
OFFER_TTL_SECONDS = 600
ACTOR = "portal"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused application: every failed rule's code, and the facts its sentence needs."""

    codes: tuple[str, ...]
    facts: dict[str, object]


def her_permits(session: Session, *, tenant_id: int, resident_id: uuid.UUID) -> list[Permit]:
    """Her permits, newest first."""
    found = permits.list_permits(session, tenant_id=tenant_id, resident_id=resident_id)
    return sorted(found, key=lambda p: p.number, reverse=True)


def her_permit(
    session: Session, *, tenant_id: int, resident_id: uuid.UUID, permit_id: str
) -> Permit:
    """One of her permits, else 404."""
    try:
        pid = uuid.UUID(permit_id)
    except ValueError as exc:
        raise NotFound(ErrorCode.PERMIT_NOT_FOUND) from exc
    permit = session.scalar(
        select(Permit)
        .where(Permit.id == pid, Permit.tenant_id == tenant_id, Permit.resident_id == resident_id)
        .options(selectinload(Permit.plates), selectinload(Permit.charges))
    )
    if permit is None:
        raise NotFound(ErrorCode.PERMIT_NOT_FOUND)
    return permit


def her_vehicles(session: Session, *, tenant_id: int, resident_id: uuid.UUID) -> list[Vehicle]:
    """The vehicles registered to her (as holder), by plate."""
    return list(
        session.scalars(
            select(Vehicle)
            .where(Vehicle.tenant_id == tenant_id, Vehicle.holder_id == resident_id)
            .order_by(Vehicle.plate)
        )
    )


def zone_names(session: Session, *, tenant_id: int) -> dict[str, str]:
    """Zone code → name."""
    return {
        z.code: z.name for z in session.scalars(select(Zone).where(Zone.tenant_id == tenant_id))
    }


def her_zone(
    session: Session, *, tenant_id: int, resident_id: uuid.UUID, today: date
) -> str | None:
    """The zone her current main residence lies in, if any."""
    homes = session.scalars(
        select(Residence).where(
            Residence.tenant_id == tenant_id,
            Residence.resident_id == resident_id,
            Residence.kind == ResidenceKind.MAIN,
        )
    ).all()
    current = [
        r
        for r in homes
        if r.valid_from <= today and (r.valid_until is None or today < r.valid_until)
    ]
    if not current:
        return None
    home = current[0]
    zones = session.scalars(
        select(Zone).where(Zone.tenant_id == tenant_id).options(selectinload(Zone.segments))
    ).all()
    for zone in sorted(zones, key=lambda z: z.code):
        segments = [
            eligibility.Segment(s.street, s.number_from, s.number_to, s.parity)
            for s in zone.segments
        ]
        if eligibility.address_in_zone(home.street, home.house_number, segments):
            return zone.code
    return None


def _renew_from(session: Session, permit: Permit) -> date:
    rules = permits.rules_for(session, tenant_id=permit.tenant_id, permit_type=permit.permit_type)
    until = as_utc(permit.valid_until).astimezone(BERLIN)
    return (until - timedelta(days=rules.renewal_window_days)).date()


def renewal_opens(session: Session, permit: Permit, now: datetime) -> date | None:
    """The first day she may renew, while that day is still ahead (else None)."""
    opens = _renew_from(session, permit)
    return opens if opens > now.astimezone(BERLIN).date() else None


def _refusal(
    session: Session, exc: IssuerError, *, tenant_id: int, resident_id: uuid.UUID, now: datetime
) -> Refusal:
    codes = tuple(e.get("code", "other") for e in exc.errors) if isinstance(exc, Refused) else ()
    if not codes:
        codes = (str(exc.code),)
    facts: dict[str, object] = {"next_year": now.year + 1}
    rules = permits.rules_for(session, tenant_id=tenant_id, permit_type=PermitType.BEW)
    if rules.max_length_mm:
        facts["max_length"] = f"{rules.max_length_mm / 1000:.2f} m".replace(".", ",")
    live = [
        p
        for p in her_permits(session, tenant_id=tenant_id, resident_id=resident_id)
        if p.permit_type == PermitType.BEW and p.state in (PermitState.ACTIVE,)
    ]
    if live:
        facts["permit"] = f" (Nr. {live[0].number})"
        facts["renew_from"] = _renew_from(session, live[0]).strftime("%d.%m.%Y")
    return Refusal(codes, facts)


def _bew_request(zone: str, vehicle_id: uuid.UUID, resident_id: uuid.UUID) -> permits.PermitRequest:
    return permits.PermitRequest(
        permit_type=PermitType.BEW,
        resident_id=resident_id,
        zone_codes=(zone,),
        vehicle_ids=(vehicle_id,),
    )


def apply(
    session: Session,
    keys: KeyStore,
    *,
    tenant: Tenant,
    resident_id: uuid.UUID,
    zone: str,
    vehicle_id: uuid.UUID,
    now: datetime,
) -> Permit | Refusal:
    """Apply for her resident permit (committed), or every failed rule."""
    try:
        issued = permits.apply(
            session,
            keys,
            tenant=tenant,
            request=_bew_request(zone, vehicle_id, resident_id),
            actor=ACTOR,
            now=now,
        )
    except IssuerError as exc:
        session.rollback()
        return _refusal(session, exc, tenant_id=tenant.id, resident_id=resident_id, now=now)
    session.commit()
    return issued.permit


@dataclass(frozen=True, slots=True)
class Quote:
    """What her resident permit for one vehicle costs if she applied now."""

    vehicle_id: uuid.UUID
    plate: str
    valid_from: datetime
    valid_until: datetime
    amount_cents: int
    months: int


def quotes(
    session: Session,
    *,
    tenant_id: int,
    resident_id: uuid.UUID,
    zone: str,
    vehicles: Sequence[Vehicle],
    now: datetime,
) -> list[Quote]:
    """The fee of a resident permit for each of her vehicles, read only: the same period
    (the type's rules) and the same schedule and basis that `permits.apply` charges, so she
    sees the amount before she commits. Eligibility is judged when she applies."""
    rules = permits.rules_for(session, tenant_id=tenant_id, permit_type=PermitType.BEW)
    schedule = fees.schedule_at(session, tenant_id=tenant_id, permit_type=PermitType.BEW, at=now)
    found = []
    for vehicle in vehicles:
        start, until = validity(_bew_request(zone, vehicle.id, resident_id), rules, now)
        months = fees.months_between(start, until)
        basis = fees.FeeBasis(months=months, length_mm=vehicle.length_mm, width_mm=vehicle.width_mm)
        _schedule_id, amount = fees.price(schedule, basis)
        found.append(Quote(vehicle.id, vehicle.plate, start, until, amount, months))
    return found


def live_resident_permit(found: Sequence[Permit]) -> bool:
    """Whether one of her permits is a resident permit that is still running (then she
    renews or changes it rather than applying again)."""
    return any(
        p.permit_type == PermitType.BEW
        and p.state in (PermitState.ACTIVE, PermitState.AWAITING_PAYMENT, PermitState.SUSPENDED)
        for p in found
    )


def renew(
    session: Session, keys: KeyStore, *, permit: Permit, resident_id: uuid.UUID, now: datetime
) -> Permit | Refusal:
    """Renew in the renewal window (a new fee is charged)."""
    tenant_id, permit_id = permit.tenant_id, permit.id
    try:
        issued = permits.renew(
            session,
            keys,
            tenant_id=tenant_id,
            permit_id=permit_id,
            months=None,
            actor=ACTOR,
            now=now,
        )
    except IssuerError as exc:
        session.rollback()
        refusal = _refusal(session, exc, tenant_id=tenant_id, resident_id=resident_id, now=now)
        again = session.get(Permit, permit_id)
        if again is not None:
            refusal.facts["renew_from"] = _renew_from(session, again).strftime("%d.%m.%Y")
        return refusal
    session.commit()
    return issued.permit


def change_vehicle(
    session: Session,
    keys: KeyStore,
    *,
    tenant: Tenant,
    permit: Permit,
    resident_id: uuid.UUID,
    vehicle_id: uuid.UUID,
    now: datetime,
) -> Permit | Refusal:
    """Replace the permit for another (or re-registered) vehicle: the old token is revoked at
    once, the new permit runs for the remaining term."""
    try:
        issued = permits.replace(
            session,
            keys,
            tenant=tenant,
            permit_id=permit.id,
            reason=RevocationReason.VEHICLE_LEFT,
            vehicle_ids=[vehicle_id],
            actor=ACTOR,
            now=now,
        )
    except IssuerError as exc:
        session.rollback()
        return _refusal(session, exc, tenant_id=tenant.id, resident_id=resident_id, now=now)
    session.commit()
    return issued.permit


def give_back(session: Session, *, permit: Permit, now: datetime) -> None:
    """Return the permit: revoked with the reason ``returned``."""
    permits.revoke(
        session,
        tenant_id=permit.tenant_id,
        permit_id=permit.id,
        reason=RevocationReason.RETURNED,
        actor=ACTOR,
        now=now,
    )
    session.commit()


def visitors_used(
    session: Session, *, tenant_id: int, resident_id: uuid.UUID, now: datetime
) -> int:
    """Visitor permits she had this calendar year."""
    year_start = datetime(now.year, 1, 1, tzinfo=now.tzinfo)
    return sum(
        1
        for p in her_permits(session, tenant_id=tenant_id, resident_id=resident_id)
        if p.permit_type == PermitType.BES and as_utc(p.created_at) >= year_start
    )


def visitor_permit(
    session: Session,
    keys: KeyStore,
    *,
    tenant: Tenant,
    resident_id: uuid.UUID,
    zone: str,
    plate: str,
    start: date,
    days: int,
    now: datetime,
) -> Permit | Refusal:
    """A visitor permit for `plate` from `start` for `days` days (from her quota)."""
    begin = datetime.combine(start, time(0, 0), BERLIN)
    valid_from = max(now, begin.astimezone(now.tzinfo))
    valid_until = (begin + timedelta(days=days)).astimezone(now.tzinfo)
    request = permits.PermitRequest(
        permit_type=PermitType.BES,
        resident_id=resident_id,
        zone_codes=(zone,),
        plates=(plate,),
        valid_from=valid_from,
        valid_until=valid_until,
    )
    try:
        issued = permits.apply(session, keys, tenant=tenant, request=request, actor=ACTOR, now=now)
    except IssuerError as exc:
        session.rollback()
        return _refusal(session, exc, tenant_id=tenant.id, resident_id=resident_id, now=now)
    session.commit()
    return issued.permit


@dataclass(frozen=True, slots=True)
class WalletOffer:
    """The one-step offer of a permit to her wallet."""

    url: str  # openid-credential-offer://?credential_offer_uri=…
    deferred: bool  # unpaid: the wallet receives it once paid


def wallet_offer(
    session: Session,
    *,
    tenant: Tenant,
    permit: Permit,
    credential_issuer: str,
    policy: WalletPolicy,
    now: datetime,
) -> WalletOffer:
    """A single-use offer by reference, without a code (she is logged in and just asked)."""
    created = create_offer(
        session,
        tenant_id=tenant.id,
        resident_id=permit.resident_id,
        permit_id=permit.id,
        configuration_ids=[f"{tenant.ags}.{PARKING_PERMIT}", f"{tenant.ags}.{PERMIT_QR}"],
        credential_issuer=credential_issuer,
        now=now,
        policy=policy,
        ttl_seconds=OFFER_TTL_SECONDS,
        with_tx_code=False,
    )
    from wallet_api.models import WalletOffer as OfferRow

    offer = session.get(OfferRow, created.offer_id)
    assert offer is not None
    token, _expires = create_reference(session, offer=offer, now=now, policy=policy)
    session.commit()
    url = offer_url_by_reference(offer_uri_for(credential_issuer, token))
    return WalletOffer(url=url, deferred=permit.state == PermitState.AWAITING_PAYMENT)


def offerable(permit: Permit) -> bool:
    """Whether the permit can go into her wallet now (active, or unpaid: deferred)."""
    return permit.state in (PermitState.ACTIVE, PermitState.AWAITING_PAYMENT)


def vehicle_of(vehicles: Sequence[Vehicle], raw: str | None) -> uuid.UUID | None:
    """The chosen vehicle when it is one of hers."""
    for vehicle in vehicles:
        if raw is not None and str(vehicle.id) == raw:
            return vehicle.id
    return None
