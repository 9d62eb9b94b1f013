"""wallet: offers, grants, nonces, devices, issued credentials

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "wallet_offers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("permit_id", sa.Uuid(), nullable=True),
        sa.Column("configuration_ids", sa.JSON(), nullable=False),
        sa.Column("code_digest", sa.String(length=64), nullable=False),
        sa.Column("tx_code_hash", sa.String(length=200), nullable=False),
        sa.Column("tx_code_digits", sa.Integer(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("redeemed_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_wallet_offers_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_wallet_offers_resident_id_residents")
        ),
        sa.ForeignKeyConstraint(
            ["permit_id"], ["permits.id"], name=op.f("fk_wallet_offers_permit_id_permits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_offers")),
        sa.UniqueConstraint("code_digest", name=op.f("uq_wallet_offers_code_digest")),
    )
    op.create_index(op.f("ix_wallet_offers_tenant_id"), "wallet_offers", ["tenant_id"])
    op.create_index(op.f("ix_wallet_offers_resident_id"), "wallet_offers", ["resident_id"])

    op.create_table(
        "wallet_grants",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("offer_id", sa.String(length=36), nullable=False),
        sa.Column("access_digest", sa.String(length=64), nullable=False),
        _ts("access_expires_at"),
        sa.Column("refresh_digest", sa.String(length=64), nullable=False),
        _ts("refresh_expires_at"),
        _ts("revoked_at", nullable=True),
        _ts("created_at"),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["wallet_offers.id"], name=op.f("fk_wallet_grants_offer_id_wallet_offers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_grants")),
        sa.UniqueConstraint("offer_id", name=op.f("uq_wallet_grants_offer_id")),
        sa.UniqueConstraint("access_digest", name=op.f("uq_wallet_grants_access_digest")),
        sa.UniqueConstraint("refresh_digest", name=op.f("uq_wallet_grants_refresh_digest")),
    )

    op.create_table(
        "wallet_nonces",
        sa.Column("digest", sa.String(length=64), nullable=False),
        _ts("expires_at"),
        _ts("used_at", nullable=True),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_wallet_nonces")),
    )
    op.create_index(op.f("ix_wallet_nonces_expires_at"), "wallet_nonces", ["expires_at"])

    op.create_table(
        "wallet_devices",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("thumbprint", sa.String(length=43), nullable=False),
        sa.Column("jwk", sa.JSON(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=True),
        _ts("created_at"),
        _ts("removed_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_wallet_devices_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_wallet_devices_resident_id_residents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_devices")),
        sa.UniqueConstraint("thumbprint", name=op.f("uq_wallet_devices_thumbprint")),
    )
    op.create_index(op.f("ix_wallet_devices_tenant_id"), "wallet_devices", ["tenant_id"])
    op.create_index(op.f("ix_wallet_devices_resident_id"), "wallet_devices", ["resident_id"])

    op.create_table(
        "wallet_credentials",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("grant_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("permit_id", sa.Uuid(), nullable=True),
        sa.Column("configuration_id", sa.String(length=64), nullable=False),
        sa.Column("status_list", sa.Integer(), nullable=False),
        sa.Column("status_idx", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.String(length=64), nullable=False),
        _ts("issued_at"),
        _ts("expires_at"),
        _ts("revoked_at", nullable=True),
        sa.Column("wallet_event", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_wallet_credentials_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_wallet_credentials_resident_id_residents"),
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["wallet_grants.id"],
            name=op.f("fk_wallet_credentials_grant_id_wallet_grants"),
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["wallet_devices.id"],
            name=op.f("fk_wallet_credentials_device_id_wallet_devices"),
        ),
        sa.ForeignKeyConstraint(
            ["permit_id"], ["permits.id"], name=op.f("fk_wallet_credentials_permit_id_permits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_credentials")),
        sa.UniqueConstraint("tenant_id", "status_list", "status_idx", name="uq_wallet_cred_status"),
    )
    op.create_index(op.f("ix_wallet_credentials_tenant_id"), "wallet_credentials", ["tenant_id"])
    op.create_index(
        op.f("ix_wallet_credentials_resident_id"), "wallet_credentials", ["resident_id"]
    )
    op.create_index(op.f("ix_wallet_credentials_grant_id"), "wallet_credentials", ["grant_id"])
    op.create_index(
        op.f("ix_wallet_credentials_notification_id"), "wallet_credentials", ["notification_id"]
    )
    op.create_index("ix_wallet_credentials_device", "wallet_credentials", ["device_id"])


def downgrade() -> None:
    op.drop_table("wallet_credentials")
    op.drop_table("wallet_devices")
    op.drop_table("wallet_nonces")
    op.drop_table("wallet_grants")
    op.drop_table("wallet_offers")
