"""relying party: the attested wallet instance that pushed an authorization request

Revision ID: 0013
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("wallet_authorizations") as batch:
        batch.add_column(sa.Column("attestation_jkt", sa.String(length=43), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("wallet_authorizations") as batch:
        batch.drop_column("attestation_jkt")
