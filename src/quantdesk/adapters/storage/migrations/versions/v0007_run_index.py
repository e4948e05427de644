"""the index of backtest runs and the kill switches

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RUN_INDEXES = {
    "ix_backtest_runs_created": ["created_ns", "run_id"],
    "ix_backtest_runs_state": ["state"],
    "ix_backtest_runs_submitted_by": ["submitted_by"],
}


def upgrade() -> None:
    op.create_table(
        "backtest_runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("submitted_by", sa.String(200), nullable=False),
        sa.Column("correlation_id", sa.String(64), nullable=True),
        sa.Column("job_id", sa.String(64), nullable=True),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("started_ns", sa.BigInteger(), nullable=True),
        sa.Column("finished_ns", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(60), nullable=True),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        sa.Column("total_return", sa.Float(), nullable=True),
        sa.Column("sharpe", sa.Float(), nullable=True),
        sa.Column("max_drawdown", sa.Float(), nullable=True),
        sa.Column("trade_count", sa.BigInteger(), nullable=True),
        sa.Column("request", sa.Text(), nullable=False),
    )
    for name, columns in _RUN_INDEXES.items():
        op.create_index(name, "backtest_runs", columns)
    op.create_table(
        "backtest_run_strategies",
        sa.Column(
            "run_id",
            sa.String(64),
            sa.ForeignKey("backtest_runs.run_id", name="fk_backtest_run_strategies_run"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("ref", sa.String(120), nullable=False),
    )
    op.create_index("ix_backtest_run_strategies_ref", "backtest_run_strategies", ["ref"])
    op.create_table(
        "kill_switches",
        sa.Column("scope", sa.String(16), primary_key=True),
        sa.Column("target", sa.String(200), primary_key=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("thrown_at_ns", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "kill_switch_events",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at_ns", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("kill_switch_events")
    op.drop_table("kill_switches")
    op.drop_index("ix_backtest_run_strategies_ref", table_name="backtest_run_strategies")
    op.drop_table("backtest_run_strategies")
    for name in _RUN_INDEXES:
        op.drop_index(name, table_name="backtest_runs")
    op.drop_table("backtest_runs")
