"""key store: key rings and their encrypted key files in the database

Revision ID: 0016
Revises: 0015

The tables of keys/storage/sql.py: every instance reads ring state and encrypted key files
(or the token handles of HSM keys) from here, so no app server keeps keys on local disk.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "key_rings",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("issuer_id", sa.String(length=200), nullable=False),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_key_rings"),
    )
    op.create_table(
        "key_ring_blobs",
        sa.Column("ring", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ring"],
            ["key_rings.name"],
            name="fk_key_ring_blobs_ring_key_rings",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ring", "name", name="pk_key_ring_blobs"),
    )


def downgrade() -> None:
    op.drop_table("key_ring_blobs")
    op.drop_table("key_rings")
