"""The one place the wallet reaches into the issuer: tenants, residents, permits, status
indices, signing keys and the permit QR token. Everything else in wallet_api goes
through these functions, so the issuer's services are used, never re-implemented (the
permit's words, `issuer.services.permits.vocabulary`, are imported where they are used).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.db.models import Resident, Tenant
from issuer.db.permit_models import Permit, PermitToken
from issuer.services.signing import KeyStore
from issuer.settings import Settings
from keys.lifecycle import Purpose
from wallet_api.errors import CredentialError
from wallet_api.services.sd_jwt_vc import IssuerKey, PermitFacts, ResidenceFacts


def tenant(session: Session, tenant_id: int) -> Tenant:
    """The tenant row (it exists: offers reference it)."""
    row = session.get(Tenant, tenant_id)
    assert row is not None
    return row


def status_uri(settings: Settings, tenant: Tenant, list_no: int) -> str:
    """The status list URI (JWT form by content negotiation) of a tenant's list."""
    from issuer.services.status_lists import list_uri

    return list_uri(settings, tenant.ags, list_no)


def allocate(
    session: Session, settings: Settings, *, tenant_id: int, now: datetime
) -> tuple[int, int]:
    """A fresh random status index of the tenant (issuer.services.status_lists)."""
    from issuer.services.status_lists import allocate_index

    return allocate_index(session, tenant_id=tenant_id, now=now, size=settings.status_list_size)


def lock_tenant(session: Session, tenant_id: int) -> None:
    """The tenant's write lock (issuer.services.status_lists.lock_tenant)."""
    from issuer.services.status_lists import lock_tenant as lock

    lock(session, tenant_id)


def revoke_indices(session: Session, *, tenant_id: int, entries: list[tuple[int, int]]) -> int:
    """Set every (list_no, idx) to INVALID at once; returns how many changed."""
    from issuer.services.status_lists import revoke_tokens

    return revoke_tokens(session, tenant_id=tenant_id, tokens=entries)


def signing_key(keys: KeyStore, tenant: Tenant, now: datetime) -> IssuerKey:
    """The tenant's active credential signer, with its x5c chain."""
    from issuer.services.certificates import x5c_for

    signer = keys.signer(tenant, Purpose.CREDENTIAL, now)
    chain = x5c_for(keys, tenant, signer, now)
    return IssuerKey(signer=signer, x5c=tuple(chain) if chain else None)


def qr_token(session: Session, keys: KeyStore, *, permit: Permit, now: datetime) -> str:
    """A fresh ``BID1:`` token of the permit (issuer.services.permits.issue_qr_token)."""
    from issuer.services.permits import issue_qr_token

    return issue_qr_token(session, keys, permit=permit, now=now)


def latest_qr_index(session: Session, *, permit: Permit) -> tuple[int, int]:
    """The (list_no, idx) of the QR token just issued for the permit."""
    row = session.execute(
        select(PermitToken.list_no, PermitToken.idx)
        .where(PermitToken.permit_id == permit.id, PermitToken.kind == "qr")
        .order_by(PermitToken.id.desc())
        .limit(1)
    ).one()
    return int(row[0]), int(row[1])


def record_permit_token(
    session: Session, *, permit: Permit, list_no: int, idx: int, iat: int, exp: int, now: datetime
) -> None:
    """Record an SD-JWT VC of a permit, so revoking the permit revokes it too."""
    from issuer.services.permits import TokenKind, record_token

    record_token(
        session,
        permit=permit,
        list_no=list_no,
        idx=idx,
        kind=TokenKind.SD_JWT,
        iat=iat,
        exp=exp,
        now=now,
    )


def permit_facts(session: Session, *, permit: Permit, tenant_name: str) -> PermitFacts:
    """What the parking-permit credential shows."""
    given, family = "", permit.holder_label or ""
    if permit.resident_id is not None:
        resident = session.get(Resident, permit.resident_id)
        if resident is not None:
            given, family = resident.given_name, resident.family_name
    return PermitFacts(
        permit_type=permit.permit_type,
        zones=tuple(permit.zone_codes),
        plates=tuple(p.plate for p in permit.plates),
        number=permit.number,
        valid_from=int(permit.valid_from.timestamp()),
        valid_until=int(permit.valid_until.timestamp()),
        holder_given_name=given,
        holder_family_name=family,
        fleet=permit.fleet,
        issuer_name=tenant_name,
    )


def find_permit(session: Session, *, tenant: Tenant, permit_id: uuid.UUID) -> Permit | None:
    """A permit of the tenant by id, or None."""
    permit = session.get(Permit, permit_id)
    if permit is None or permit.tenant_id != tenant.id:
        return None
    return permit


def find_resident(session: Session, *, tenant_id: int, resident_id: uuid.UUID) -> Resident | None:
    """A resident of the tenant by id, or None."""
    resident = session.get(Resident, resident_id)
    if resident is None or resident.tenant_id != tenant_id:
        return None
    return resident


def residence_facts(
    session: Session, *, tenant: Tenant, resident_id: uuid.UUID, today: date
) -> ResidenceFacts:
    """The resident's current residence (main preferred); none → credential_request_denied."""
    resident = find_resident(session, tenant_id=tenant.id, resident_id=resident_id)
    if resident is None or resident.birth_date is None:
        raise CredentialError("credential_request_denied", "no registered residence")
    current = [
        r
        for r in resident.residences
        if r.valid_from <= today and (r.valid_until is None or today < r.valid_until)
    ]
    if not current:
        raise CredentialError("credential_request_denied", "no registered residence")
    current.sort(key=lambda r: (r.kind != "main", r.valid_from))
    residence = current[0]
    return ResidenceFacts(
        given_name=resident.given_name,
        family_name=resident.family_name,
        birth_date=resident.birth_date,
        street_address=f"{residence.street} {residence.house_number}",
        postal_code=residence.postcode,
        locality=tenant.name,
        residence_kind=residence.kind,
        resident_since=residence.valid_from,
    )


def audit(
    session: Session,
    *,
    tenant_id: int,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    now: datetime,
    reason: str | None = None,
) -> None:
    """Append to the tenant's hash-chained audit log (ids only, no personal data)."""
    from issuer.services.audit import record

    record(
        session,
        tenant_id=tenant_id,
        actor=actor[:64],
        action=action,
        object_type=object_type,
        object_id=object_id,
        reason=reason,
        now=now,
    )


def tenant_jwks(keys: KeyStore, tenant: Tenant, now: datetime) -> dict[str, Any]:
    """The tenant's published public keys as a JWKS (issuer.services.publication)."""
    from issuer.services.publication import public_jwks

    return public_jwks(keys, [tenant], now)


def tenant_by_ags(session: Session, ags: str) -> Tenant | None:
    """A tenant by AGS."""
    return session.scalars(select(Tenant).where(Tenant.ags == ags)).one_or_none()


def all_tenants(session: Session) -> list[Tenant]:
    """Every tenant, by AGS."""
    return list(session.scalars(select(Tenant).order_by(Tenant.ags)).all())


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime."""
    return moment.astimezone(UTC)
