"""Cancel and the recovery sweep: when a job was last sent to the queue, and which task holds a page since when.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite alters tables by copying them; PostgreSQL gets plain ALTER TABLE.
    with op.batch_alter_table("ocr_jobs") as table:
        table.add_column(sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("ocr_pages") as table:
        table.add_column(sa.Column("task_id", sa.String(64), nullable=True))
        table.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ocr_pages") as table:
        table.drop_column("claimed_at")
        table.drop_column("task_id")
    with op.batch_alter_table("ocr_jobs") as table:
        table.drop_column("enqueued_at")
