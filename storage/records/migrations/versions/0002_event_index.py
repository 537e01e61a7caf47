"""Progress streams read a job's events after an id, in id order: index (job_id, id) instead of job_id alone.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ocr_job_events_job_id_id", "ocr_job_events", ["job_id", "id"])
    op.drop_index("ix_ocr_job_events_job_id", table_name="ocr_job_events")


def downgrade() -> None:
    op.create_index("ix_ocr_job_events_job_id", "ocr_job_events", ["job_id"])
    op.drop_index("ix_ocr_job_events_job_id_id", table_name="ocr_job_events")
