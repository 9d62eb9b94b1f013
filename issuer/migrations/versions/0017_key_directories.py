"""key store: the issuing CA and the relying party's identity in the database

Revision ID: 0017
Revises: 0016

The key directories of keys/storage/sql.py (`SqlDocuments`): the CA's metadata, root
certificate, issued certificates and encrypted key (or its token handle), and the relying
party's encrypted request-signing key and certificate chain, so no app server keeps them
on local disk.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "key_directories",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_key_directories"),
    )
    op.create_table(
        "key_directory_files",
        sa.Column("directory", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["directory"],
            ["key_directories.name"],
            name="fk_key_directory_files_directory_key_directories",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("directory", "name", name="pk_key_directory_files"),
    )


def downgrade() -> None:
    op.drop_table("key_directory_files")
    op.drop_table("key_directories")
