"""enforcement clients, their handhelds, assertion ids and access tokens

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "enforcement_clients",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        _ts("created_at"),
        _ts("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enforcement_clients")),
    )
    op.create_table(
        "enforcement_coverage",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["enforcement_clients.id"],
            name=op.f("fk_enforcement_coverage_client_id_enforcement_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_enforcement_coverage_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("client_id", "tenant_id", name=op.f("pk_enforcement_coverage")),
    )
    op.create_table(
        "enforcement_devices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("code_digest", sa.String(length=64), nullable=True),
        _ts("code_expires_at"),
        sa.Column("public_jwk", sa.Text(), nullable=True),
        sa.Column("key_thumbprint", sa.String(length=64), nullable=True),
        _ts("created_at"),
        _ts("enrolled_at", nullable=True),
        _ts("last_seen_at", nullable=True),
        _ts("withdrawn_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["enforcement_clients.id"],
            name=op.f("fk_enforcement_devices_client_id_enforcement_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enforcement_devices")),
        sa.UniqueConstraint("code_digest", name=op.f("uq_enforcement_devices_code_digest")),
        sa.UniqueConstraint("key_thumbprint", name=op.f("uq_enforcement_devices_key_thumbprint")),
    )
    op.create_index(op.f("ix_enforcement_devices_client_id"), "enforcement_devices", ["client_id"])
    op.create_table(
        "enforcement_assertions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("jti_digest", sa.String(length=64), nullable=False),
        _ts("expires_at"),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["enforcement_devices.id"],
            name=op.f("fk_enforcement_assertions_device_id_enforcement_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enforcement_assertions")),
        sa.UniqueConstraint(
            "device_id", "jti_digest", name=op.f("uq_enforcement_assertions_device_id_jti_digest")
        ),
    )
    op.create_index(
        op.f("ix_enforcement_assertions_device_id"), "enforcement_assertions", ["device_id"]
    )
    op.create_table(
        "enforcement_tokens",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        _ts("expires_at"),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["enforcement_devices.id"],
            name=op.f("fk_enforcement_tokens_device_id_enforcement_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_enforcement_tokens")),
    )
    op.create_index(op.f("ix_enforcement_tokens_device_id"), "enforcement_tokens", ["device_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_enforcement_tokens_device_id"), table_name="enforcement_tokens")
    op.drop_table("enforcement_tokens")
    op.drop_index(op.f("ix_enforcement_assertions_device_id"), table_name="enforcement_assertions")
    op.drop_table("enforcement_assertions")
    op.drop_index(op.f("ix_enforcement_devices_client_id"), table_name="enforcement_devices")
    op.drop_table("enforcement_devices")
    op.drop_table("enforcement_coverage")
    op.drop_table("enforcement_clients")
