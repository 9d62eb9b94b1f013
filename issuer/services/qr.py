"""The permit QR (DESIGN §3.2): `BID1:` + Base45(COSE_Sign1 over the CWT claims), and its
rendering as PNG or SVG (alphanumeric mode, error correction Q, segno)."""

from __future__ import annotations

import io
from datetime import datetime
from typing import TYPE_CHECKING

from issuer.services.signing import sign_cose, tenant_signer

if TYPE_CHECKING:
    from issuer.db.models import Tenant
    from issuer.db.permit_models import Permit
    from issuer.settings import Settings

PREFIX = "BID1:"


def permit_claims(
    *, tenant: Tenant, permit: Permit, list_no: int, idx: int, iat: int, exp: int
) -> object:
    """The verifier's PermitClaims for one token of a permit."""
    from verifier.formats import PermitClaims, Window

    nbf = int(permit.valid_from.timestamp())
    windows = None
    if permit.windows:
        windows = tuple(Window(int(d), int(a), int(b)) for d, a, b in permit.windows)
    return PermitClaims(
        issuer=tenant.ags,
        iat=iat,
        exp=exp,
        nbf=nbf if nbf > iat else None,
        type=permit.permit_type,
        zones=tuple(permit.zone_codes),
        plates=tuple(p.plate for p in permit.plates),
        number=permit.number,
        status_list=list_no,
        status_idx=idx,
        fleet=permit.fleet,
        max_stay=permit.max_stay_minutes,
        windows=windows,
    )


def encode_permit_qr(
    settings: Settings,
    *,
    tenant: Tenant,
    permit: Permit,
    list_no: int,
    idx: int,
    iat: int,
    exp: int,
    now: datetime,
) -> str:
    """Sign the permit's claims with the tenant's active key for its type; the QR text."""
    from verifier.formats import b45encode, encode_permit_payload

    claims = permit_claims(tenant=tenant, permit=permit, list_no=list_no, idx=idx, iat=iat, exp=exp)
    payload = encode_permit_payload(claims)  # type: ignore[arg-type]
    signer = tenant_signer(settings, tenant, now, permit.permit_type)
    return PREFIX + b45encode(sign_cose(signer, payload))


def render_png(text: str, *, scale: int = 6) -> bytes:
    """A PNG of the QR (alphanumeric mode, ECC Q, quiet zone 4)."""
    import segno

    code = segno.make_qr(text, error="q", mode="alphanumeric", boost_error=False)
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def render_svg(text: str, *, scale: int = 4) -> bytes:
    """An SVG of the QR (alphanumeric mode, ECC Q)."""
    import segno

    code = segno.make_qr(text, error="q", mode="alphanumeric", boost_error=False)
    out = io.BytesIO()
    code.save(out, kind="svg", scale=scale, border=4, xmldecl=False)
    return out.getvalue()
