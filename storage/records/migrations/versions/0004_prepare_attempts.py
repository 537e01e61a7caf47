"""Poison documents: how often a job's first step (opening the document, counting its pages) was redelivered
after its worker died, so that it can be given up like a page.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ocr_jobs") as table:
        table.add_column(sa.Column("prepare_attempts", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("ocr_jobs") as table:
        table.drop_column("prepare_attempts")
