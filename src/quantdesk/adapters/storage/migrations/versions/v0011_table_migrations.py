"""table migrations: runs, checkpoints, chunks, rejected rows, rows per source day

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "migration_runs",
        sa.Column("migration_id", sa.String(64), primary_key=True),
        sa.Column("mapping_name", sa.String(100), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("table_name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("started_ns", sa.BigInteger(), nullable=False),
        sa.Column("finished_ns", sa.BigInteger(), nullable=True),
        sa.Column("rows_read", sa.BigInteger(), nullable=False),
        sa.Column("rows_written", sa.BigInteger(), nullable=False),
        sa.Column("rows_present", sa.BigInteger(), nullable=False),
        sa.Column("rows_rejected", sa.BigInteger(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("late_days", sa.Text(), nullable=False),
        sa.Column("shrunk_days", sa.Text(), nullable=False),
        sa.Column("watermark", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_index("ix_migration_runs_mapping", "migration_runs", ["mapping_name", "started_ns"])
    op.create_table(
        "migration_checkpoints",
        sa.Column("mapping_name", sa.String(100), primary_key=True),
        sa.Column("mapping_sha256", sa.String(64), nullable=False),
        sa.Column("watermark", sa.Text(), nullable=True),
        sa.Column("migration_id", sa.String(64), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "migration_chunks",
        sa.Column("migration_id", sa.String(64), primary_key=True),
        sa.Column("chunk", sa.Integer(), primary_key=True),
        sa.Column("first_row", sa.BigInteger(), nullable=False),
        sa.Column("rows_read", sa.BigInteger(), nullable=False),
        sa.Column("rows_written", sa.BigInteger(), nullable=False),
        sa.Column("rows_present", sa.BigInteger(), nullable=False),
        sa.Column("rows_rejected", sa.BigInteger(), nullable=False),
        sa.Column("watermark", sa.Text(), nullable=True),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("catalog_sha256", sa.String(64), nullable=False),
        sa.Column("remigrated_day", sa.Integer(), nullable=True),
        sa.Column("committed_ns", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "migration_rejects",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("migration_id", sa.String(64), nullable=False),
        sa.Column("row", sa.BigInteger(), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_index("ix_migration_rejects_run", "migration_rejects", ["migration_id", "seq"])
    op.create_table(
        "migration_days",
        sa.Column("mapping_name", sa.String(100), primary_key=True),
        sa.Column("day", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("migration_days")
    op.drop_index("ix_migration_rejects_run", "migration_rejects")
    op.drop_table("migration_rejects")
    op.drop_table("migration_chunks")
    op.drop_table("migration_checkpoints")
    op.drop_index("ix_migration_runs_mapping", "migration_runs")
    op.drop_table("migration_runs")
