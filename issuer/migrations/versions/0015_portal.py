"""citizen portal: browser sessions, payments, branding

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "portal_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=True),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("lang", sa.String(length=2), nullable=False),
        sa.Column("pending_tx", sa.String(length=36), nullable=True),
        sa.Column("pending_purpose", sa.String(length=16), nullable=True),
        sa.Column("pending_next", sa.String(length=300), nullable=True),
        _ts("fresh_until", nullable=True),
        _ts("created_at"),
        _ts("last_seen_at"),
        _fk("portal_sessions", "tenant_id", "tenants"),
        _fk("portal_sessions", "resident_id", "residents"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_sessions")),
    )
    op.create_index(
        "ix_portal_sessions_last_seen_at", "portal_sessions", ["last_seen_at"], unique=False
    )
    op.create_index(
        op.f("ix_portal_sessions_resident_id"), "portal_sessions", ["resident_id"], unique=False
    )
    op.create_table(
        "portal_payments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=False),
        sa.Column("permit_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider_ref", sa.String(length=64), nullable=True),
        _ts("created_at"),
        _ts("paid_at", nullable=True),
        _fk("portal_payments", "tenant_id", "tenants"),
        _fk("portal_payments", "resident_id", "residents"),
        _fk("portal_payments", "permit_id", "permits"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_payments")),
        sa.UniqueConstraint("provider_ref", name=op.f("uq_portal_payments_provider_ref")),
    )
    op.create_index(
        op.f("ix_portal_payments_resident_id"), "portal_payments", ["resident_id"], unique=False
    )
    op.create_index(
        op.f("ix_portal_payments_permit_id"), "portal_payments", ["permit_id"], unique=False
    )
    op.create_table(
        "portal_brands",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("colour", sa.String(length=7), nullable=False),
        _ts("updated_at"),
        _fk("portal_brands", "tenant_id", "tenants"),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_portal_brands")),
    )


def downgrade() -> None:
    op.drop_table("portal_brands")
    op.drop_index(op.f("ix_portal_payments_permit_id"), table_name="portal_payments")
    op.drop_index(op.f("ix_portal_payments_resident_id"), table_name="portal_payments")
    op.drop_table("portal_payments")
    op.drop_index(op.f("ix_portal_sessions_resident_id"), table_name="portal_sessions")
    op.drop_index("ix_portal_sessions_last_seen_at", table_name="portal_sessions")
    op.drop_table("portal_sessions")
