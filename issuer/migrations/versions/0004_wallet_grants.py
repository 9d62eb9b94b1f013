"""wallet grants: bound devices, retired refresh tokens, why a grant ended

Revision ID: 0004
Revises: 0003

Besides the new tables, the upgrade repairs what older code let through:
- every device key is re-identified by the thumbprint of its canonical JWK (older code took
  the thumbprint of the text received, so one key could count as several devices); of
  several devices of one key the oldest keeps it, the others are removed (and renamed, as
  the thumbprint is unique), and so is a device whose key does not decode. Their
  credentials stay as they are in the status lists: revoke them with the permit or by
  removing the device again through the API if they matter;
- the grants that bound a device are recorded from the credentials issued to it;
- every grant that bound a removed device ends (a phone removed before the upgrade could
  still refresh).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEVICE_REMOVED = "device_removed"


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _now(bind: sa.engine.Connection) -> datetime:
    now = datetime.now(UTC)
    return now.replace(tzinfo=None) if bind.dialect.name == "sqlite" else now


def upgrade() -> None:
    op.add_column("wallet_grants", sa.Column("revoked_reason", sa.String(length=32), nullable=True))
    op.create_table(
        "wallet_grant_devices",
        sa.Column("grant_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        _ts("bound_at"),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["wallet_grants.id"],
            name=op.f("fk_wallet_grant_devices_grant_id_wallet_grants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["wallet_devices.id"],
            name=op.f("fk_wallet_grant_devices_device_id_wallet_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("grant_id", "device_id", name=op.f("pk_wallet_grant_devices")),
    )
    op.create_index(
        op.f("ix_wallet_grant_devices_device_id"), "wallet_grant_devices", ["device_id"]
    )
    op.create_table(
        "wallet_retired_tokens",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("grant_id", sa.String(length=36), nullable=False),
        _ts("retired_at"),
        _ts("expires_at"),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["wallet_grants.id"],
            name=op.f("fk_wallet_retired_tokens_grant_id_wallet_grants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_wallet_retired_tokens")),
    )
    op.create_index(
        op.f("ix_wallet_retired_tokens_grant_id"), "wallet_retired_tokens", ["grant_id"]
    )
    op.create_index(
        op.f("ix_wallet_retired_tokens_expires_at"), "wallet_retired_tokens", ["expires_at"]
    )
    _repair(op.get_bind())


def _respelt(jwk: object) -> object:
    """A stored JWK with its coordinates re-spelt canonically, as a lenient base64url decoder
    (the one older code used) read them; whatever is not a JWK is returned as it was."""
    if not isinstance(jwk, dict):
        return jwk
    out = dict(jwk)
    for name in ("x", "y"):
        value = jwk.get(name)
        if isinstance(value, str) and len(value) <= 256:
            try:
                raw = base64.urlsafe_b64decode(
                    value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4)
                )
            except (ValueError, TypeError):
                continue
            out[name] = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
    return out


def _repair(bind: sa.engine.Connection) -> None:
    from verifier import DecodeError
    from verifier.formats import decode_public_jwk

    meta = sa.MetaData()
    devices = sa.Table("wallet_devices", meta, autoload_with=bind)
    grants = sa.Table("wallet_grants", meta, autoload_with=bind)
    credentials = sa.Table("wallet_credentials", meta, autoload_with=bind)
    bindings = sa.Table("wallet_grant_devices", meta, autoload_with=bind)
    now = _now(bind)

    rows = bind.execute(
        sa.select(devices.c.id, devices.c.thumbprint, devices.c.jwk).order_by(
            devices.c.created_at, devices.c.id
        )
    ).all()
    winners: dict[str, str] = {}  # canonical thumbprint -> the oldest device of that key
    losers: list[str] = []
    for row in rows:
        try:
            kid = decode_public_jwk(_respelt(row.jwk)).kid
        except DecodeError:
            losers.append(row.id)
            continue
        if kid in winners:
            losers.append(row.id)  # a second spelling of a key bound before: not a device
        else:
            winners[kid] = row.id
    by_id = {row.id: row for row in rows}
    for device_id in losers:  # removed, and renamed so the unique thumbprint frees up
        placeholder = hashlib.sha256(b"removed:" + device_id.encode()).digest()
        bind.execute(
            devices.update()
            .where(devices.c.id == device_id)
            .values(
                thumbprint=base64.urlsafe_b64encode(placeholder).rstrip(b"=").decode("ascii"),
                removed_at=sa.func.coalesce(devices.c.removed_at, now),
            )
        )
    for kid, device_id in winners.items():
        if by_id[device_id].thumbprint != kid:
            public = decode_public_jwk(_respelt(by_id[device_id].jwk))
            bind.execute(
                devices.update()
                .where(devices.c.id == device_id)
                .values(thumbprint=kid, jwk=public.jwk)
            )

    pairs = bind.execute(
        sa.select(
            credentials.c.grant_id,
            credentials.c.device_id,
            sa.func.min(credentials.c.issued_at).label("bound_at"),
        ).group_by(credentials.c.grant_id, credentials.c.device_id)
    ).all()
    if pairs:
        bind.execute(
            bindings.insert(),
            [{"grant_id": g, "device_id": d, "bound_at": at} for g, d, at in pairs],
        )

    removed = (
        sa.select(bindings.c.grant_id)
        .join(devices, devices.c.id == bindings.c.device_id)
        .where(devices.c.removed_at.is_not(None))
    )
    bind.execute(
        grants.update()
        .where(grants.c.revoked_at.is_(None), grants.c.id.in_(removed))
        .values(revoked_at=now, revoked_reason=DEVICE_REMOVED)
    )


def downgrade() -> None:
    op.drop_table("wallet_retired_tokens")
    op.drop_table("wallet_grant_devices")
    with op.batch_alter_table("wallet_grants") as batch:
        batch.drop_column("revoked_reason")
