"""A permit's tokens: the QR token (`BID1:`…) it is checked by, and tokens issued elsewhere.

Every token gets its own random status index (`status_lists.allocate_indices`) and is
recorded in `permit_tokens`, so a change of the permit reaches every token (the change
protocol's second step). The QR is built by `keys.build_permit_qr` from the permit's claims
(`verifier.PermitClaims`) with the tenant's key for the permit's type; rendering it as PNG or
SVG (alphanumeric mode, error correction Q) is `render_png` / `render_svg`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, insert, select

from issuer.db import bulk
from issuer.db.models import Tenant
from issuer.db.permit_models import Permit, PermitToken
from issuer.errors import Conflict, ErrorCode, InvalidRequest
from issuer.services import status_lists
from issuer.services.clock import as_utc
from issuer.services.permits.vocabulary import TRANSITIONS, Action, TokenKind
from keys.permit_qr import build_permit_qr
from keys.windscreen import qr_png, qr_svg
from verifier import PermitType
from verifier.formats import PermitClaims, Window

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from issuer.services.signing import KeyStore
    from keys.signer import Signer


def permit_claims(
    *, tenant: Tenant, permit: Permit, list_no: int, idx: int, iat: int, exp: int
) -> PermitClaims:
    """The claims of one QR token of a permit (what the handheld reads)."""
    nbf = int(as_utc(permit.valid_from).timestamp())
    windows = None
    if permit.windows:
        windows = tuple(Window(int(d), int(a), int(b)) for d, a, b in permit.windows)
    return PermitClaims(
        issuer=tenant.ags,
        iat=iat,
        exp=exp,
        nbf=nbf if nbf > iat else None,
        type=PermitType(permit.permit_type),
        zones=tuple(permit.zone_codes),
        plates=tuple(p.plate for p in permit.plates),
        number=permit.number,
        status_list=list_no,
        status_idx=idx,
        fleet=permit.fleet,
        max_stay=permit.max_stay_minutes,
        windows=windows,
    )


def require_active(permit: Permit) -> None:
    """409 illegal_transition unless the permit may have a QR token now."""
    if permit.state not in TRANSITIONS[Action.QR]:
        raise Conflict(ErrorCode.ILLEGAL_TRANSITION, f"qr from {permit.state}")


def issue_qr_token(session: Session, keys: KeyStore, *, permit: Permit, now: datetime) -> str:
    """Sign and record a new QR token for an active permit, with its own status index."""
    tenant = session.get(Tenant, permit.tenant_id)
    assert tenant is not None
    return issue_qr_tokens(session, keys, tenant=tenant, permits=[permit], now=now)[0]


def issue_qr_tokens(
    session: Session,
    keys: KeyStore,
    *,
    tenant: Tenant,
    permits: Sequence[Permit],
    now: datetime,
) -> list[str]:
    """A new QR token for each active permit of the tenant (in order), each with its own
    status index; 422 validity_beyond_key when a token would outlive the key that signs it
    (a handheld would answer `key_not_valid` for a permit that is still valid)."""
    if not permits:
        return []
    for permit in permits:
        require_active(permit)
    iat = int(now.timestamp())
    keyed: dict[str, tuple[Signer, int]] = {}  # per permit type: the signer and its key's end
    for permit in permits:
        kind = permit.permit_type
        if kind not in keyed:
            keyed[kind] = keys.signing_key(tenant, kind, now)
        if int(as_utc(permit.valid_until).timestamp()) > keyed[kind][1]:
            raise InvalidRequest(ErrorCode.VALIDITY_BEYOND_KEY, "the signing key ends earlier")
    indices = status_lists.allocate_indices(
        session,
        tenant_id=tenant.id,
        count=len(permits),
        now=now,
        size=keys.settings.status_list_size,
    )
    texts: list[str] = []
    rows = []
    for permit, (list_no, idx) in zip(permits, indices, strict=True):
        exp = int(as_utc(permit.valid_until).timestamp())
        claims = permit_claims(
            tenant=tenant, permit=permit, list_no=list_no, idx=idx, iat=iat, exp=exp
        )
        text = build_permit_qr(keyed[permit.permit_type][0], claims)
        texts.append(text)
        rows.append(
            {
                "tenant_id": tenant.id,
                "permit_id": permit.id,
                "permit_version": permit.version,
                "list_no": list_no,
                "idx": idx,
                "kind": TokenKind.QR,
                "iat": iat,
                "exp": exp,
                "text": text,
                "created_at": now,
            }
        )
    # through the table (Core): no ORM bookkeeping per row, one statement for all
    bulk.insert_rows(session.connection(), cast(Table, PermitToken.__table__), rows)
    return texts


def record_token(
    session: Session,
    *,
    permit: Permit,
    list_no: int,
    idx: int,
    kind: TokenKind,
    iat: int,
    exp: int,
    now: datetime,
) -> None:
    """Record a token issued elsewhere (the wallet's SD-JWT VCs) against its permit, so a
    change of the permit reaches it."""
    session.execute(
        insert(PermitToken).values(
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
    )


def tokens_of(session: Session, permit: Permit) -> list[PermitToken]:
    """Every token ever issued for a permit, oldest first."""
    return list(
        session.scalars(
            select(PermitToken).where(PermitToken.permit_id == permit.id).order_by(PermitToken.id)
        )
    )


def current_qr(session: Session, keys: KeyStore, *, permit: Permit, now: datetime) -> str:
    """The QR text of the current permit version; a new token only when there is none."""
    require_active(permit)
    text = session.scalar(
        select(PermitToken.text)
        .where(
            PermitToken.permit_id == permit.id,
            PermitToken.kind == TokenKind.QR,
            PermitToken.permit_version == permit.version,
            PermitToken.text.is_not(None),
            PermitToken.exp > int(now.timestamp()),
        )
        .order_by(PermitToken.id.desc())
        .limit(1)
    )
    if text is not None:
        return text
    return issue_qr_token(session, keys, permit=permit, now=now)


def render_png(text: str, *, scale: int = 6) -> bytes:
    """A PNG of the QR (alphanumeric mode, ECC Q, quiet zone 4)."""
    return qr_png(text, scale=scale)


def render_svg(text: str, *, scale: int = 4) -> bytes:
    """An SVG of the QR (alphanumeric mode, ECC Q)."""
    return qr_svg(text, scale=scale, xmldecl=False)
