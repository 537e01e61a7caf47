"""Batches: jobs uploaded (or grouped) together, followed and downloaded as one (POST /v1/batches); each job
names its batch.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.records.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ocr_batches",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_ocr_batches_owner", "ocr_batches", ["owner"])
    with op.batch_alter_table("ocr_jobs") as table:
        table.add_column(sa.Column("batch_id", sa.String(36), nullable=True))
        table.create_index("ix_ocr_jobs_batch_id", ["batch_id"])


def downgrade() -> None:
    with op.batch_alter_table("ocr_jobs") as table:
        table.drop_index("ix_ocr_jobs_batch_id")
        table.drop_column("batch_id")
    op.drop_index("ix_ocr_batches_owner", "ocr_batches")
    op.drop_table("ocr_batches")
