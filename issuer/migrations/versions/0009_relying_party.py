"""relying party: presentation transactions, client policies, authorization code flow

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "rp_transactions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("api_client_id", sa.Uuid(), nullable=True),
        sa.Column("request_digest", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("dcql", sa.JSON(), nullable=False),
        sa.Column("response_mode", sa.String(length=24), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("binding_digest", sa.String(length=64), nullable=False),
        sa.Column("redirect_uri", sa.String(length=1000), nullable=True),
        sa.Column("flow", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=40), nullable=True),
        sa.Column("response_code_digest", sa.String(length=64), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("authorization_id", sa.String(length=36), nullable=True),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("fetched_at", nullable=True),
        _ts("responded_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_rp_transactions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["api_client_id"],
            ["api_clients.id"],
            name=op.f("fk_rp_transactions_api_client_id_api_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rp_transactions")),
        sa.UniqueConstraint("request_digest", name=op.f("uq_rp_transactions_request_digest")),
        sa.UniqueConstraint("state", name=op.f("uq_rp_transactions_state")),
    )
    op.create_index(
        op.f("ix_rp_transactions_tenant_id"), "rp_transactions", ["tenant_id"], unique=False
    )
    op.create_index("ix_rp_transactions_expires_at", "rp_transactions", ["expires_at"])
    op.create_table(
        "rp_client_policies",
        sa.Column("api_client_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("allowed_claims", sa.JSON(), nullable=False),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(
            ["api_client_id"],
            ["api_clients.id"],
            name=op.f("fk_rp_client_policies_api_client_id_api_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_rp_client_policies_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("api_client_id", name=op.f("pk_rp_client_policies")),
    )
    op.create_table(
        "wallet_authorizations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("request_uri_digest", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("redirect_uri", sa.String(length=1000), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("configuration_ids", sa.JSON(), nullable=False),
        sa.Column("client_state", sa.String(length=500), nullable=True),
        sa.Column("dpop_jkt", sa.String(length=43), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("binding_digest", sa.String(length=64), nullable=True),
        sa.Column("resident_id", sa.Uuid(), nullable=True),
        sa.Column("code_digest", sa.String(length=64), nullable=True),
        sa.Column("offer_id", sa.String(length=36), nullable=True),
        _ts("created_at"),
        _ts("expires_at"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_wallet_authorizations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_wallet_authorizations_resident_id_residents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_authorizations")),
        sa.UniqueConstraint(
            "request_uri_digest", name=op.f("uq_wallet_authorizations_request_uri_digest")
        ),
        sa.UniqueConstraint("code_digest", name=op.f("uq_wallet_authorizations_code_digest")),
    )
    op.create_index("ix_wallet_authorizations_expires_at", "wallet_authorizations", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_wallet_authorizations_expires_at", table_name="wallet_authorizations")
    op.drop_table("wallet_authorizations")
    op.drop_table("rp_client_policies")
    op.drop_index("ix_rp_transactions_expires_at", table_name="rp_transactions")
    op.drop_index(op.f("ix_rp_transactions_tenant_id"), table_name="rp_transactions")
    op.drop_table("rp_transactions")
