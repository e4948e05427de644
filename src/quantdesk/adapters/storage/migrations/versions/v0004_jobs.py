"""jobs, their states, owners and progress (the JobRunner's queue)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = {
    "ix_jobs_state": ["state"],
    "ix_jobs_kind": ["kind"],
    "ix_jobs_submitted_by": ["submitted_by"],
    "ix_jobs_created": ["created_ns"],
    "ix_jobs_subject": ["subject"],
}


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("job_id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(200), nullable=True),
        sa.Column("submitted_by", sa.String(200), nullable=False),
        sa.Column("correlation_id", sa.String(64), nullable=True),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("started_ns", sa.BigInteger(), nullable=True),
        sa.Column("finished_ns", sa.BigInteger(), nullable=True),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("eta_seconds", sa.Float(), nullable=True),
        sa.Column("message", sa.String(500), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("cancel_reason", sa.String(2000), nullable=True),
    )
    for name, columns in _INDEXES.items():
        op.create_index(name, "jobs", columns)


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, table_name="jobs")
    op.drop_table("jobs")
