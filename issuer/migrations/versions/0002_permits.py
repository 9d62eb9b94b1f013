"""permits: rules, fees, permits, tokens, status lists, publication

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "status_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("list_no", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("allocated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_entries")),
        sa.UniqueConstraint(
            "tenant_id", "list_no", "idx", name=op.f("uq_status_entries_tenant_id_list_no_idx")
        ),
    )
    op.create_table(
        "trust_bundles",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("etag", sa.String(length=80), nullable=False),
        sa.Column("iat", sa.Integer(), nullable=False),
        sa.Column("exp", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_trust_bundles")),
    )
    op.create_table(
        "fee_schedules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("permit_type", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("void_reason", sa.String(length=200), nullable=True),
        sa.Column("replaces_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["replaces_id"],
            ["fee_schedules.id"],
            name=op.f("fk_fee_schedules_replaces_id_fee_schedules"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_fee_schedules_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_schedules")),
    )
    with op.batch_alter_table("fee_schedules", schema=None) as batch_op:
        batch_op.create_index("ix_fee_schedules_lookup", ["tenant_id", "permit_type"], unique=False)

    op.create_table(
        "permit_counters",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("next_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_permit_counters_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_permit_counters")),
    )
    op.create_table(
        "permit_rule_sets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("permit_type", sa.String(length=3), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_permit_rule_sets_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permit_rule_sets")),
        sa.UniqueConstraint(
            "tenant_id", "permit_type", name=op.f("uq_permit_rule_sets_tenant_id_permit_type")
        ),
    )
    op.create_table(
        "plate_indexes",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("state_version", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("etag", sa.String(length=80), nullable=False),
        sa.Column("iat", sa.Integer(), nullable=False),
        sa.Column("exp", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_plate_indexes_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_plate_indexes")),
    )
    op.create_table(
        "publication_state",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_publication_state_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_publication_state")),
    )
    op.create_table(
        "status_lists",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("list_no", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("bits", sa.SmallInteger(), nullable=False),
        sa.Column("allocated", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("built_version", sa.Integer(), nullable=True),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cwt", sa.LargeBinary(), nullable=True),
        sa.Column("jwt", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_status_lists_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_lists")),
        sa.UniqueConstraint("tenant_id", "list_no", name=op.f("uq_status_lists_tenant_id_list_no")),
    )
    op.create_table(
        "permits",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("permit_type", sa.String(length=3), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("resident_id", sa.Uuid(), nullable=True),
        sa.Column("holder_label", sa.String(length=200), nullable=True),
        sa.Column("zone_codes", sa.JSON(), nullable=False),
        sa.Column("fleet", sa.String(length=200), nullable=True),
        sa.Column("use_kind", sa.String(length=16), nullable=True),
        sa.Column("proof_ref", sa.String(length=200), nullable=True),
        sa.Column("max_stay_minutes", sa.Integer(), nullable=True),
        sa.Column("windows", sa.JSON(), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("is_provisional", sa.Boolean(), nullable=False),
        sa.Column("auto_renew", sa.Boolean(), nullable=False),
        sa.Column("display_required", sa.Boolean(), nullable=False),
        sa.Column("legal_basis", sa.String(length=32), nullable=False),
        sa.Column("exclusive_key", sa.String(length=64), nullable=True),
        sa.Column("state_reason", sa.String(length=64), nullable=True),
        sa.Column("predecessor_id", sa.Uuid(), nullable=True),
        sa.Column("successor_id", sa.Uuid(), nullable=True),
        sa.Column("flagged", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pseudonymised_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_permits_resident_id_residents")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_permits_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permits")),
        sa.UniqueConstraint("tenant_id", "number", name=op.f("uq_permits_tenant_id_number")),
        sa.UniqueConstraint(
            "tenant_id",
            "permit_type",
            "exclusive_key",
            name=op.f("uq_permits_tenant_id_permit_type_exclusive_key"),
        ),
    )
    with op.batch_alter_table("permits", schema=None) as batch_op:
        batch_op.create_index("ix_permits_resident", ["resident_id"], unique=False)
        batch_op.create_index(
            "ix_permits_tenant_state_until", ["tenant_id", "state", "valid_until"], unique=False
        )

    op.create_table(
        "permit_charges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("permit_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("fee_schedule_id", sa.Integer(), nullable=True),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payment_ref", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["fee_schedule_id"],
            ["fee_schedules.id"],
            name=op.f("fk_permit_charges_fee_schedule_id_fee_schedules"),
        ),
        sa.ForeignKeyConstraint(
            ["permit_id"],
            ["permits.id"],
            name=op.f("fk_permit_charges_permit_id_permits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permit_charges")),
    )
    op.create_table(
        "permit_plates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("permit_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("permit_type", sa.String(length=3), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("plate", sa.String(length=32), nullable=False),
        sa.Column("vehicle_id", sa.Uuid(), nullable=True),
        sa.Column("lock_key", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["permit_id"],
            ["permits.id"],
            name=op.f("fk_permit_plates_permit_id_permits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permit_plates")),
        sa.UniqueConstraint(
            "tenant_id",
            "permit_type",
            "lock_key",
            name=op.f("uq_permit_plates_tenant_id_permit_type_lock_key"),
        ),
    )
    with op.batch_alter_table("permit_plates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_permit_plates_permit_id"), ["permit_id"], unique=False)
        batch_op.create_index("ix_permit_plates_plate", ["tenant_id", "plate"], unique=False)

    op.create_table(
        "permit_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("permit_id", sa.Uuid(), nullable=False),
        sa.Column("permit_version", sa.Integer(), nullable=False),
        sa.Column("list_no", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("iat", sa.Integer(), nullable=False),
        sa.Column("exp", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["permit_id"],
            ["permits.id"],
            name=op.f("fk_permit_tokens_permit_id_permits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permit_tokens")),
        sa.UniqueConstraint(
            "tenant_id", "list_no", "idx", name=op.f("uq_permit_tokens_tenant_id_list_no_idx")
        ),
    )
    with op.batch_alter_table("permit_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_permit_tokens_permit_id"), ["permit_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("permit_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_permit_tokens_permit_id"))

    op.drop_table("permit_tokens")
    with op.batch_alter_table("permit_plates", schema=None) as batch_op:
        batch_op.drop_index("ix_permit_plates_plate")
        batch_op.drop_index(batch_op.f("ix_permit_plates_permit_id"))

    op.drop_table("permit_plates")
    op.drop_table("permit_charges")
    with op.batch_alter_table("permits", schema=None) as batch_op:
        batch_op.drop_index("ix_permits_tenant_state_until")
        batch_op.drop_index("ix_permits_resident")

    op.drop_table("permits")
    op.drop_table("status_lists")
    op.drop_table("publication_state")
    op.drop_table("plate_indexes")
    op.drop_table("permit_rule_sets")
    op.drop_table("permit_counters")
    with op.batch_alter_table("fee_schedules", schema=None) as batch_op:
        batch_op.drop_index("ix_fee_schedules_lookup")

    op.drop_table("fee_schedules")
    op.drop_table("trust_bundles")
    op.drop_table("status_entries")
