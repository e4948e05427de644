"""portfolio risk limits, versioned

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "risk_limit_versions",
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("limits", sa.Text(), nullable=False),
        sa.Column("limits_hash", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("set_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("correlation_id", sa.String(64), nullable=True),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("risk_limit_versions")
