"""The webhook sweep: ended jobs with a callback_url are found by end time, and attempts with a next one due or
no outcome yet by time (partial indexes); each job records when the sweep last sent its webhook again.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite alters tables by copying them; PostgreSQL gets plain ALTER TABLE.
    with op.batch_alter_table("ocr_jobs") as table:
        table.add_column(sa.Column("webhook_resent_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_ocr_jobs_callback_finished",
        "ocr_jobs",
        ["finished_at"],
        postgresql_where=sa.text("callback_url IS NOT NULL"),
        sqlite_where=sa.text("callback_url IS NOT NULL"),
    )
    op.create_index(
        "ix_ocr_webhook_deliveries_next",
        "ocr_webhook_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("next_attempt_at IS NOT NULL"),
        sqlite_where=sa.text("next_attempt_at IS NOT NULL"),
    )
    op.create_index(
        "ix_ocr_webhook_deliveries_open",
        "ocr_webhook_deliveries",
        ["created_at"],
        postgresql_where=sa.text("duration_ms IS NULL"),
        sqlite_where=sa.text("duration_ms IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_ocr_webhook_deliveries_open", "ocr_webhook_deliveries")
    op.drop_index("ix_ocr_webhook_deliveries_next", "ocr_webhook_deliveries")
    op.drop_index("ix_ocr_jobs_callback_finished", "ocr_jobs")
    with op.batch_alter_table("ocr_jobs") as table:
        table.drop_column("webhook_resent_at")
