"""A tenant's wallet settings: its security policy and its logo.

Policy: DPoP, wallet attestation and key attestation are each "optional" or "required".
The deployment's settings (`wallet_dpop`, `wallet_attestation`, `wallet_key_attestation`)
are the floor; a tenant can require more, never less (`requirements`).

Logo: a PNG the municipality uploads (at most 48 KiB and 1024 x 1024 pixels), decoded with
Pillow only after its header showed the size (no decompression bomb), and re-encoded, so
what wallets fetch carries no metadata from the upload. Without one, a plain default logo
is served.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy.orm import Session

from issuer.settings import Settings
from wallet_api.errors import WalletProblem
from wallet_api.protocol_models import WalletTenantSettings

LEVELS = ("optional", "required")
MAX_LOGO_BYTES = 48 * 1024
MAX_LOGO_PIXELS = 1024


@dataclass(frozen=True, slots=True)
class Requirements:
    """What the token and credential endpoints demand of a tenant's wallets."""

    dpop: bool
    wallet_attestation: bool
    key_attestation: bool


@dataclass(frozen=True, slots=True)
class TenantPolicy:
    """A tenant's own choices (None: the deployment's setting)."""

    dpop: str | None
    wallet_attestation: str | None
    key_attestation: str | None


def _row(session: Session, tenant_id: int) -> WalletTenantSettings | None:
    return session.get(WalletTenantSettings, tenant_id)


def tenant_policy(session: Session, tenant_id: int) -> TenantPolicy:
    """The tenant's stored policy."""
    row = _row(session, tenant_id)
    if row is None:
        return TenantPolicy(None, None, None)
    return TenantPolicy(row.dpop, row.wallet_attestation, row.key_attestation)


def requirements(session: Session, settings: Settings, tenant_id: int) -> Requirements:
    """The stricter of the deployment's and the tenant's policy."""
    own = tenant_policy(session, tenant_id)

    def required(deployment: str, tenant: str | None) -> bool:
        return "required" in (deployment, tenant)

    return Requirements(
        dpop=required(settings.wallet_dpop, own.dpop),
        wallet_attestation=required(settings.wallet_attestation, own.wallet_attestation),
        key_attestation=required(settings.wallet_key_attestation, own.key_attestation),
    )


def _settings_row(session: Session, tenant_id: int, now: datetime) -> WalletTenantSettings:
    row = _row(session, tenant_id)
    if row is None:
        row = WalletTenantSettings(tenant_id=tenant_id, updated_at=now)
        session.add(row)
    return row


def set_policy(session: Session, tenant_id: int, policy: TenantPolicy, now: datetime) -> None:
    """Store a tenant's policy (values "optional", "required" or None)."""
    for value in (policy.dpop, policy.wallet_attestation, policy.key_attestation):
        if value is not None and value not in LEVELS:
            raise ValueError(f"policy values are {LEVELS}")
    row = _settings_row(session, tenant_id, now)
    row.dpop = policy.dpop
    row.wallet_attestation = policy.wallet_attestation
    row.key_attestation = policy.key_attestation
    row.updated_at = now
    session.flush()


def normalized_logo(data: bytes) -> bytes:
    """The uploaded PNG re-encoded, or 422 invalid_logo."""
    from PIL import Image, UnidentifiedImageError

    if not 0 < len(data) <= MAX_LOGO_BYTES or not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise WalletProblem("invalid_logo", "a PNG of at most 48 KiB is required", status=422)
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            width, height = image.size  # read from the header, before any pixel is decoded
            if not (0 < width <= MAX_LOGO_PIXELS and 0 < height <= MAX_LOGO_PIXELS):
                raise WalletProblem("invalid_logo", "at most 1024 x 1024 pixels", status=422)
            image.load()
            converted = image.convert("RGBA")
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        OSError,
        ValueError,
        SyntaxError,
        EOFError,
        struct.error,
        zlib.error,
    ) as exc:
        # everything Pillow's PNG reader raises for a malformed file
        raise WalletProblem("invalid_logo", "not a readable PNG", status=422) from exc
    out = io.BytesIO()
    converted.save(out, format="PNG", optimize=True)
    return out.getvalue()


def set_logo(session: Session, tenant_id: int, data: bytes, now: datetime) -> str:
    """Store a tenant's logo (normalised); returns its SHA-256."""
    png = normalized_logo(data)
    row = _settings_row(session, tenant_id, now)
    row.logo_png = png
    row.logo_sha256 = hashlib.sha256(png).hexdigest()
    row.updated_at = now
    session.flush()
    return row.logo_sha256


def clear_logo(session: Session, tenant_id: int, now: datetime) -> None:
    """Go back to the default logo."""
    row = _row(session, tenant_id)
    if row is not None:
        row.logo_png = None
        row.logo_sha256 = None
        row.updated_at = now
        session.flush()


@lru_cache(maxsize=1)
def default_logo() -> bytes:
    """A plain 96 x 96 logo: the wallet's blue with a white bar (no text, no fonts)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (96, 96), (0, 75, 135, 255))
    ImageDraw.Draw(image).rectangle((18, 40, 78, 56), fill=(255, 255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def logo(session: Session, tenant_id: int) -> bytes:
    """The tenant's logo PNG, or the default one."""
    row = _row(session, tenant_id)
    if row is not None and row.logo_png is not None:
        return bytes(row.logo_png)
    return default_logo()
