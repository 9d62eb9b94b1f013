"""wallet grants: bound devices, retired refresh tokens, why a grant ended

Revision ID: 0004
Revises: 0003

Besides the new tables, the upgrade repairs what older code let through:
- every device key is re-identified by the thumbprint of its canonical JWK (older code took
  the thumbprint of the text received, so one key could count as several devices); a
  device whose key does not decode, or that duplicates an older device's key, is removed;
- the grants that bound a device are recorded from the credentials issued to it;
- every grant that bound a removed device ends (a phone removed before the upgrade could
  still refresh).
"""

from __future__ import annotations

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


def _repair(bind: sa.engine.Connection) -> None:
    from verifier._errors import DecodeError
    from verifier._keys import decode_public_jwk

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
    taken = {row.thumbprint for row in rows}
    for row in rows:
        try:
            public = decode_public_jwk(row.jwk)
        except DecodeError:
            bind.execute(
                devices.update()
                .where(devices.c.id == row.id, devices.c.removed_at.is_(None))
                .values(removed_at=now)
            )
            continue
        if public.kid == row.thumbprint:
            continue
        if public.kid in taken:  # a second spelling of a key bound before: not a device
            bind.execute(
                devices.update()
                .where(devices.c.id == row.id, devices.c.removed_at.is_(None))
                .values(removed_at=now)
            )
            continue
        taken.add(public.kid)
        bind.execute(
            devices.update()
            .where(devices.c.id == row.id)
            .values(thumbprint=public.kid, jwk=public.jwk)
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
