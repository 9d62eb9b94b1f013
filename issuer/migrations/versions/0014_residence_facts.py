"""wallet credentials remember a digest of the register facts a Bürger-ID states

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("wallet_credentials") as batch:
        batch.add_column(sa.Column("facts_digest", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("wallet_credentials") as batch:
        batch.drop_column("facts_digest")
