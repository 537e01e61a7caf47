"""Access: API keys (hashed), job owners' idempotency keys, webhook callbacks and their delivery attempts, and
retention (how long a job's files are kept after it ends, and when they went).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.records.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ocr_jobs") as table:
        table.add_column(sa.Column("callback_url", sa.Text(), nullable=True))
        table.add_column(sa.Column("retain_hours", sa.Integer(), nullable=True))
        table.add_column(sa.Column("expires_at", UTCDateTime(), nullable=True))
        table.add_column(sa.Column("expired_at", UTCDateTime(), nullable=True))
        table.create_index("ix_ocr_jobs_expires_at", ["expires_at"])
    op.create_table(
        "ocr_api_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("admin", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("rate_per_minute", sa.Integer(), nullable=True),
        sa.Column("max_in_flight", sa.Integer(), nullable=True),
        sa.Column("webhook_secret", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "ocr_idempotency_keys",
        sa.Column("owner", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(36), nullable=True),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_ocr_idempotency_keys_expires_at", "ocr_idempotency_keys", ["expires_at"])
    op.create_table(
        "ocr_webhook_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(36), sa.ForeignKey("ocr_jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_ocr_webhook_deliveries_job_id", "ocr_webhook_deliveries", ["job_id"])


def downgrade() -> None:
    op.drop_index("ix_ocr_webhook_deliveries_job_id", "ocr_webhook_deliveries")
    op.drop_table("ocr_webhook_deliveries")
    op.drop_index("ix_ocr_idempotency_keys_expires_at", "ocr_idempotency_keys")
    op.drop_table("ocr_idempotency_keys")
    op.drop_table("ocr_api_keys")
    with op.batch_alter_table("ocr_jobs") as table:
        table.drop_index("ix_ocr_jobs_expires_at")
        table.drop_column("expired_at")
        table.drop_column("expires_at")
        table.drop_column("retain_hours")
        table.drop_column("callback_url")
