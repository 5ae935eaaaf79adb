"""a program's work day: when its pairs' quiet hours end and its reminders are planned

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 03:00:00.000000

Work hours were fixed at 9 AM - 5 PM, Monday to Friday. A school program's day runs from about 7:30 AM to
3:30 PM, so each program now keeps its own start and end. Every program made before this migration keeps
9 AM - 5 PM, so nothing it sends moves.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("program", schema=None) as batch_op:
        batch_op.add_column(sa.Column("work_day_starts", sa.Time(), nullable=False, server_default=sa.text("'09:00:00'")))
        batch_op.add_column(sa.Column("work_day_ends", sa.Time(), nullable=False, server_default=sa.text("'17:00:00'")))


def downgrade() -> None:
    with op.batch_alter_table("program", schema=None) as batch_op:
        batch_op.drop_column("work_day_ends")
        batch_op.drop_column("work_day_starts")
