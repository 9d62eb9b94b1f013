"""The municipality brands its portal (municipal API, scope ``admin``):

    GET /api/v1/portal/branding     the name the portal shows and its colour
    PUT /api/v1/portal/branding     set them (white text on the colour must reach 4.5:1)

The logo is the wallet logo (``PUT /api/v1/wallet/logo``).
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from issuer.deps import ClockDep, SessionDep, SettingsDep, TenantAdmin, TenantDep
from issuer.schemas.common import ApiModel
from wallet_api.portal.brand import brand_of, set_brand
from wallet_api.services import bridge

router = APIRouter(prefix="/api/v1", tags=["citizen portal (municipal)"])


class BrandingIn(ApiModel):
    """How the portal looks."""

    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    colour: str = Field(description="#rrggbb; white text on it needs 4.5:1", max_length=7)


class BrandingOut(BaseModel):
    """How the portal looks now, and where it is."""

    name: str
    colour: str
    logo_url: str
    portal_url: str


def _out(session: SessionDep, tenant: TenantDep, settings: SettingsDep) -> BrandingOut:
    base = settings.public_base_url.rstrip("/")
    brand = brand_of(session, tenant, base)
    return BrandingOut(
        name=brand.name,
        colour=brand.colour,
        logo_url=brand.logo_url,
        portal_url=f"{base}/portal/{tenant.ags}",
    )


@router.get("/portal/branding")
def get_branding(
    principal: TenantAdmin, tenant: TenantDep, session: SessionDep, settings: SettingsDep
) -> BrandingOut:
    """The portal's name and colour."""
    return _out(session, tenant, settings)


@router.put("/portal/branding")
def put_branding(
    body: BrandingIn,
    principal: TenantAdmin,
    tenant: TenantDep,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> BrandingOut:
    """Set the portal's name and colour (422 ``colour_contrast`` when text would be hard to
    read on it)."""
    now = clock.now()
    set_brand(session, tenant.id, display_name=body.display_name, colour=body.colour, now=now)
    bridge.audit(
        session,
        tenant_id=tenant.id,
        actor=principal.key_id,
        action="portal_branding_changed",
        object_type="tenant",
        object_id=tenant.ags,
        now=now,
    )
    return _out(session, tenant, settings)
