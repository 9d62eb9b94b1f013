"""data hardening: erasing a resident erases their wallet rows (ON DELETE CASCADE)

A resident's wallet offers, devices and issued-credential records, and through the offers
their grants, refer to the resident; without a delete action they blocked the retention job
from deleting a departed resident, who then stayed as a pseudonym with vehicles and plates
linked. With CASCADE the database itself removes every wallet row of an erased resident, in
the same transaction, whichever code deletes them.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, referred table) of every wallet reference that now cascades
CASCADES: tuple[tuple[str, str, str], ...] = (
    ("wallet_offers", "resident_id", "residents"),
    ("wallet_grants", "offer_id", "wallet_offers"),
    ("wallet_devices", "resident_id", "residents"),
    ("wallet_credentials", "resident_id", "residents"),
    ("wallet_credentials", "grant_id", "wallet_grants"),
    ("wallet_credentials", "device_id", "wallet_devices"),
)


def _set_delete_action(ondelete: str | None) -> None:
    # SQLite rebuilds each table (batch mode; migrations/env.py runs it with foreign key
    # enforcement off and checks every reference afterwards); PostgreSQL alters in place
    for table in dict.fromkeys(t for t, _, _ in CASCADES):
        with op.batch_alter_table(table) as batch:
            for _, column, referred in (c for c in CASCADES if c[0] == table):
                name = f"fk_{table}_{column}_{referred}"
                batch.drop_constraint(name, type_="foreignkey")
                batch.create_foreign_key(name, referred, [column], ["id"], ondelete=ondelete)


def upgrade() -> None:
    _set_delete_action("CASCADE")


def downgrade() -> None:
    _set_delete_action(None)
