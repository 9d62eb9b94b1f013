"""wallet standards: grant bindings, offer references, deferred issuance, replay, tenant settings

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "wallet_grant_bindings",
        sa.Column("grant_id", sa.String(length=36), nullable=False),
        sa.Column("dpop_jkt", sa.String(length=43), nullable=True),
        sa.Column("client_id", sa.String(length=255), nullable=True),
        sa.Column("attestation_jkt", sa.String(length=43), nullable=True),
        sa.Column("wallet_provider", sa.String(length=255), nullable=True),
        sa.Column("credential_identifiers", sa.JSON(), nullable=False),
        sa.Column("details_returned", sa.Boolean(), nullable=False),
        _ts("created_at"),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["wallet_grants.id"],
            name=op.f("fk_wallet_grant_bindings_grant_id_wallet_grants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("grant_id", name=op.f("pk_wallet_grant_bindings")),
    )
    op.create_table(
        "wallet_offer_references",
        sa.Column("offer_id", sa.String(length=36), nullable=False),
        sa.Column("uri_digest", sa.String(length=64), nullable=False),
        _ts("expires_at"),
        _ts("fetched_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["wallet_offers.id"],
            name=op.f("fk_wallet_offer_references_offer_id_wallet_offers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("offer_id", name=op.f("pk_wallet_offer_references")),
        sa.UniqueConstraint("uri_digest", name=op.f("uq_wallet_offer_references_uri_digest")),
    )
    op.create_table(
        "wallet_deferred",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("transaction_digest", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("grant_id", sa.String(length=36), nullable=False),
        sa.Column("permit_id", sa.Uuid(), nullable=True),
        sa.Column("configuration_id", sa.String(length=64), nullable=False),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("completed_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_wallet_deferred_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["wallet_grants.id"],
            name=op.f("fk_wallet_deferred_grant_id_wallet_grants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["permit_id"], ["permits.id"], name=op.f("fk_wallet_deferred_permit_id_permits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_deferred")),
        sa.UniqueConstraint(
            "transaction_digest", name=op.f("uq_wallet_deferred_transaction_digest")
        ),
    )
    op.create_index(op.f("ix_wallet_deferred_tenant_id"), "wallet_deferred", ["tenant_id"])
    op.create_index(op.f("ix_wallet_deferred_grant_id"), "wallet_deferred", ["grant_id"])
    op.create_table(
        "wallet_replay",
        sa.Column("digest", sa.String(length=64), nullable=False),
        _ts("expires_at"),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_wallet_replay")),
    )
    op.create_index(op.f("ix_wallet_replay_expires_at"), "wallet_replay", ["expires_at"])
    op.create_table(
        "wallet_tenant_settings",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("dpop", sa.String(length=16), nullable=True),
        sa.Column("wallet_attestation", sa.String(length=16), nullable=True),
        sa.Column("key_attestation", sa.String(length=16), nullable=True),
        sa.Column("logo_png", sa.LargeBinary(), nullable=True),
        sa.Column("logo_sha256", sa.String(length=64), nullable=True),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_wallet_tenant_settings_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_wallet_tenant_settings")),
    )


def downgrade() -> None:
    op.drop_table("wallet_tenant_settings")
    op.drop_index(op.f("ix_wallet_replay_expires_at"), table_name="wallet_replay")
    op.drop_table("wallet_replay")
    op.drop_index(op.f("ix_wallet_deferred_grant_id"), table_name="wallet_deferred")
    op.drop_index(op.f("ix_wallet_deferred_tenant_id"), table_name="wallet_deferred")
    op.drop_table("wallet_deferred")
    op.drop_table("wallet_offer_references")
    op.drop_table("wallet_grant_bindings")
