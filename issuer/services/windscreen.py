"""The printed windscreen permit of an active permit, as the issuer renders it.

The same renderer as the wallet's (`keys.windscreen`), fed from the register: the city and
the issuing office as the tenant names itself, the zones with their names, the plates, the
first and last day of validity, the permit number and the permit's current QR token (signed
now if it has none). A digital-only permit (`display_required` false) prints too, with a line
saying that it need not be displayed: a citizen may still want it on paper, and the QR on
it is as valid as the one in her wallet. A permit that is not active has no QR token and
answers 409 `illegal_transition`, as its QR image does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from issuer.db.models import Tenant, Zone
from issuer.db.permit_models import Permit
from issuer.services.clock import as_utc
from issuer.services.permits.tokens import current_qr
from keys.windscreen import PrintedZone, WindscreenPermit, render_windscreen_pdf
from verifier import PermitType

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from issuer.services.signing import KeyStore

__all__ = ["windscreen_pdf", "windscreen_permit"]


def _zones(session: Session, tenant: Tenant, codes: list[str]) -> tuple[PrintedZone, ...]:
    rows = session.execute(
        select(Zone.code, Zone.name).where(Zone.tenant_id == tenant.id, Zone.code.in_(codes))
    ).all()
    names = {code: name for code, name in rows}
    return tuple(PrintedZone(code, names.get(code)) for code in codes)


def windscreen_permit(
    session: Session, keys: KeyStore, *, tenant: Tenant, permit: Permit, now: datetime
) -> WindscreenPermit:
    """What the printed permit shows, from the register (the QR is the current token)."""
    if permit.tenant_id != tenant.id:
        raise ValueError("the permit belongs to another tenant")
    return WindscreenPermit(
        qr_text=current_qr(session, keys, permit=permit, now=now),
        city=tenant.name,
        zones=_zones(session, tenant, list(permit.zone_codes)),
        plates=tuple(p.plate for p in permit.plates),
        valid_from=as_utc(permit.valid_from),
        valid_until=as_utc(permit.valid_until),
        permit_number=permit.number,
        office=(tenant.name,),
        permit_type=PermitType(permit.permit_type),
        fleet=permit.fleet,
        display_required=permit.display_required,
    )


@dataclass(frozen=True, slots=True)
class PrintedPdf:
    """The windscreen permit as a download: the PDF and the headers both routes that serve
    it send (the clerk's and the citizen's), never cached, shown inline, named by number."""

    body: bytes
    number: int
    media_type: str = "application/pdf"

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Cache-Control": "no-store",
            "Content-Disposition": f'inline; filename="parkausweis-{self.number}.pdf"',
        }


def printed_pdf(
    session: Session,
    keys: KeyStore,
    *,
    tenant: Tenant,
    permit: Permit,
    now: datetime,
    page: str = "A6",
) -> PrintedPdf:
    """`windscreen_pdf` with what an HTTP answer of it carries."""
    data = windscreen_pdf(session, keys, tenant=tenant, permit=permit, now=now, page=page)
    return PrintedPdf(data, permit.number)


def windscreen_pdf(
    session: Session,
    keys: KeyStore,
    *,
    tenant: Tenant,
    permit: Permit,
    now: datetime,
    page: str = "A6",
) -> bytes:
    """The printable windscreen permit (PDF, A6 or A5 portrait, QR 50 mm wide)."""
    printed = windscreen_permit(session, keys, tenant=tenant, permit=permit, now=now)
    data, _layout = render_windscreen_pdf(printed, page=page, printed_at=now)
    return data
