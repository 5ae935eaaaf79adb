"""keep an agreement's settled terms while a change is pending

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 18:00:00.000000

A proposed change used to overwrite the terms both people had accepted, so until the partner accepted it the
bot fell back to the program's defaults (cadence, quiet hours). The settled terms now get their own columns.
An agreement both people have accepted today gets them filled from its terms; one with a proposal pending has
no record of what was settled before (the proposal overwrote it), so it keeps today's behaviour until settled.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the nullable settled_* columns, then copy the terms of every agreement both people accepted."""
    with op.batch_alter_table("agreement", schema=None) as batch_op:
        batch_op.add_column(sa.Column("settled_cadence", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column("settled_mentor_on_call", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("settled_after_hours_ok", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("settled_boundaries", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column("settled_first_meeting_on", sa.Date(), nullable=True))

    agreement = sa.table(
        "agreement",
        sa.column("cadence", sa.String()),
        sa.column("mentor_on_call", sa.Boolean()),
        sa.column("after_hours_ok", sa.Boolean()),
        sa.column("boundaries", sa.String()),
        sa.column("first_meeting_on", sa.Date()),
        sa.column("mentor_accepted_at", sa.DateTime()),
        sa.column("mentee_accepted_at", sa.DateTime()),
        sa.column("settled_cadence", sa.String()),
        sa.column("settled_mentor_on_call", sa.Boolean()),
        sa.column("settled_after_hours_ok", sa.Boolean()),
        sa.column("settled_boundaries", sa.String()),
        sa.column("settled_first_meeting_on", sa.Date()),
    )
    op.execute(
        agreement.update()
        .where(agreement.c.mentor_accepted_at.is_not(None), agreement.c.mentee_accepted_at.is_not(None))
        .values(
            settled_cadence=agreement.c.cadence,
            settled_mentor_on_call=agreement.c.mentor_on_call,
            settled_after_hours_ok=agreement.c.after_hours_ok,
            settled_boundaries=agreement.c.boundaries,
            settled_first_meeting_on=agreement.c.first_meeting_on,
        )
    )


def downgrade() -> None:
    """Drop the settled copy; the terms on record (possibly a pending proposal) are all that remains."""
    with op.batch_alter_table("agreement", schema=None) as batch_op:
        batch_op.drop_column("settled_first_meeting_on")
        batch_op.drop_column("settled_boundaries")
        batch_op.drop_column("settled_after_hours_ok")
        batch_op.drop_column("settled_mentor_on_call")
        batch_op.drop_column("settled_cadence")
