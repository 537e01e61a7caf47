"""Baseline: the schema as `create_all` made it before migrations existed.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.records.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ocr_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("pages_total", sa.Integer(), nullable=True),
        sa.Column("pages_done", sa.Integer(), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("filename", sa.String(255), nullable=True),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("input_key", sa.String(512), nullable=False),
        sa.Column("input_size", sa.Integer(), nullable=False),
        sa.Column("input_sha256", sa.String(64), nullable=False),
        sa.Column("lang", sa.String(128), nullable=False),
        sa.Column("psm", sa.Integer(), nullable=True),
        sa.Column("dpi", sa.Integer(), nullable=True),
        sa.Column("formats", sa.String(64), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("engine_info", sa.JSON(), nullable=True),
        sa.Column("cache_key", sa.String(64), nullable=True),
    )
    op.create_index("ix_ocr_jobs_owner", "ocr_jobs", ["owner"])
    op.create_index("ix_ocr_jobs_status", "ocr_jobs", ["status"])
    op.create_index("ix_ocr_jobs_cache_key", "ocr_jobs", ["cache_key"])
    op.create_index("ix_ocr_jobs_created", "ocr_jobs", ["created_at", "id"])
    op.create_table(
        "ocr_pages",
        sa.Column("job_id", sa.String(36), sa.ForeignKey("ocr_jobs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("page_no", sa.Integer(), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("info", sa.JSON(), nullable=True),
    )
    op.create_table(
        "ocr_job_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(36), sa.ForeignKey("ocr_jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_ocr_job_events_job_id", "ocr_job_events", ["job_id"])


def downgrade() -> None:
    op.drop_table("ocr_job_events")
    op.drop_table("ocr_pages")
    op.drop_table("ocr_jobs")
