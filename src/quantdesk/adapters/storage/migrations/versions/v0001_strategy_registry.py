"""strategy registry: versions, tags, deprecations and the audit log

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "strategy_versions",
        sa.Column("row_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("strategy_id", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("family", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.UniqueConstraint("strategy_id", "version", name="uq_strategy_versions_id_version"),
    )
    op.create_index("ix_strategy_versions_family", "strategy_versions", ["family"])
    op.create_table(
        "strategy_tags",
        sa.Column("strategy_id", sa.String(63), primary_key=True),
        sa.Column("tag", sa.String(40), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at_ns", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["strategy_id", "version"],
            ["strategy_versions.strategy_id", "strategy_versions.version"],
            name="fk_strategy_tags_version",
        ),
    )
    op.create_table(
        "strategy_deprecations",
        sa.Column("strategy_id", sa.String(63), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at_ns", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["strategy_id", "version"],
            ["strategy_versions.strategy_id", "strategy_versions.version"],
            name="fk_strategy_deprecations_version",
        ),
    )
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("at_ns", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )


def downgrade() -> None:
    op.drop_table("audit_events")
    op.drop_table("strategy_deprecations")
    op.drop_table("strategy_tags")
    op.drop_index("ix_strategy_versions_family", table_name="strategy_versions")
    op.drop_table("strategy_versions")
