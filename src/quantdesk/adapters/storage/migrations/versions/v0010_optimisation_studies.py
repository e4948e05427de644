"""optimisation studies: quantdesk's record of each study

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # issue 15 groundwork: its owner adds the tables


def downgrade() -> None:
    pass
