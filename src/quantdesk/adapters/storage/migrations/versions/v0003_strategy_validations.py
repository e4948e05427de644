"""strategy validations: each version's compatibility reports (the newest is its outcome)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "strategy_validations",
        sa.Column("row_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("strategy_id", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("checked_at_ns", sa.BigInteger(), nullable=False),
    )
    op.create_index(
        "ix_strategy_validations_version", "strategy_validations", ["strategy_id", "version"]
    )


def downgrade() -> None:
    op.drop_index("ix_strategy_validations_version", table_name="strategy_validations")
    op.drop_table("strategy_validations")
