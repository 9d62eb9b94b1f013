"""A tenant's look in the portal: the name it shows, its colour and its logo.

The logo is the tenant's wallet logo (``PUT /api/v1/wallet/logo``), so wallets and portal
show the same. The colour is the background of the header and of buttons, with white text
on it: it must reach a contrast of at least 4.5:1 against white (WCAG 2.1 AA for normal
text), else it is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from issuer.db.models import Tenant
from wallet_api.errors import WalletProblem
from wallet_api.portal.models import PortalBrand
from wallet_api.services.type_metadata import logo_url

DEFAULT_COLOUR = "#0b5394"
MIN_CONTRAST = 4.5
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True, slots=True)
class Brand:
    """What the page frame shows."""

    name: str
    colour: str
    logo_url: str


def _linear(channel: int) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def contrast_with_white(colour: str) -> float:
    """WCAG 2.1 contrast ratio of white text on `colour` (``#rrggbb``)."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    luminance = 0.2126 * _linear(r) + 0.7152 * _linear(g) + 0.0722 * _linear(b)
    return 1.05 / (luminance + 0.05)


def brand_of(session: Session, tenant: Tenant, base_url: str) -> Brand:
    """The tenant's brand (its name and the default colour when it set none)."""
    return brand_from(session.get(PortalBrand, tenant.id), tenant, base_url)


def brand_from(row: PortalBrand | None, tenant: Tenant, base_url: str) -> Brand:
    """The brand of `tenant` from its stored row (None: it set none)."""
    name = (row.display_name if row and row.display_name else None) or tenant.name
    colour = row.colour if row else DEFAULT_COLOUR
    return Brand(name=name, colour=colour, logo_url=logo_url(base_url, tenant.ags))


# a portal page's tenant and its brand in one query, built once and run with the AGS bound
TENANT_AND_BRAND = (
    select(Tenant, PortalBrand)
    .outerjoin(PortalBrand, PortalBrand.tenant_id == Tenant.id)
    .where(Tenant.ags == bindparam("ags"))
)


def tenant_and_brand(session: Session, ags: str, base_url: str) -> tuple[Tenant, Brand] | None:
    """The tenant of `ags` and its brand, or None when there is no such tenant."""
    found = session.execute(TENANT_AND_BRAND, {"ags": ags}).first()
    if found is None:
        return None
    tenant, row = found
    return tenant, brand_from(row, tenant, base_url)


def set_brand(
    session: Session, tenant_id: int, *, display_name: str | None, colour: str, now: datetime
) -> PortalBrand:
    """Store a tenant's brand; 422 ``colour_contrast`` when white text on it is hard to read."""
    if not _HEX.match(colour):
        raise WalletProblem("invalid_colour", "colour must be #rrggbb", status=422)
    if contrast_with_white(colour) < MIN_CONTRAST:
        raise WalletProblem(
            "colour_contrast",
            f"white text on this colour has a contrast below {MIN_CONTRAST}:1",
            status=422,
        )
    row = session.get(PortalBrand, tenant_id)
    if row is None:
        row = PortalBrand(tenant_id=tenant_id, colour=colour, updated_at=now)
        session.add(row)
    row.display_name = display_name
    row.colour = colour.lower()
    row.updated_at = now
    session.flush()
    return row
