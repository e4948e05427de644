"""migration warnings: the kept rows that look wrong (crossed books, crossed quotes) per run

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("migration_runs") as table:
        table.add_column(
            sa.Column("warnings_by_kind", sa.Text(), nullable=False, server_default="{}")
        )


def downgrade() -> None:
    with op.batch_alter_table("migration_runs") as table:
        table.drop_column("warnings_by_kind")
