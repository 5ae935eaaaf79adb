"""when a person's Slack account was deactivated, and past deactivations

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 10:00:00.000000

A pair whose member's account is deactivated cannot meet: its reminders wait and its periods in that time are
not counted as missed, like a pause. That needs the day the deactivation began and the spans of past ones. An
account deactivated before this migration has no known first day: its reminders wait all the same.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deactivated_on", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("deactivation_history", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_column("deactivation_history")
        batch_op.drop_column("deactivated_on")
