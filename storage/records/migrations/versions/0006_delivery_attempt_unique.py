"""Webhook deliveries: one row per (job, attempt number), so inserting the row claims the attempt.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_ocr_webhook_deliveries_job_id", "ocr_webhook_deliveries")
    op.create_index(
        "ux_ocr_webhook_deliveries_job_attempt", "ocr_webhook_deliveries", ["job_id", "attempt"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ux_ocr_webhook_deliveries_job_attempt", "ocr_webhook_deliveries")
    op.create_index("ix_ocr_webhook_deliveries_job_id", "ocr_webhook_deliveries", ["job_id"])
