"""validation policies, validation records and promotion overrides

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "validation_policies",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "validation_records",
        sa.Column("validation_id", sa.String(64), primary_key=True),
        sa.Column("strategy_id", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("policy_name", sa.String(64), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("failed_checks", sa.Text(), nullable=False),
        sa.Column("candidate_fingerprint", sa.String(64), nullable=False),
        sa.Column("fingerprints_sha256", sa.String(64), nullable=False),
        sa.Column("trials_run", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("started_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("finished_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("report_path", sa.Text(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
    )
    op.create_index(
        "ix_validation_records_version",
        "validation_records",
        ["strategy_id", "version", "content_hash"],
    )
    op.create_index("ix_validation_records_finished", "validation_records", ["finished_at_ns"])
    op.create_table(
        "promotion_overrides",
        sa.Column("row_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("strategy_id", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at_ns", sa.BigInteger(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
    )
    op.create_index(
        "ix_promotion_overrides_version",
        "promotion_overrides",
        ["strategy_id", "version", "content_hash"],
    )


def downgrade() -> None:
    op.drop_index("ix_promotion_overrides_version", table_name="promotion_overrides")
    op.drop_table("promotion_overrides")
    op.drop_index("ix_validation_records_finished", table_name="validation_records")
    op.drop_index("ix_validation_records_version", table_name="validation_records")
    op.drop_table("validation_records")
    op.drop_table("validation_policies")
