"""audit anchors: each version records its audit event, events carry a keyed seal, the head

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("strategy_versions") as batch:
        batch.add_column(sa.Column("audit_seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("audit_hash", sa.String(64), nullable=True))
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("mac", sa.String(64), nullable=True))
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("mac", sa.String(64), nullable=True),
    )
    _backfill()


def _backfill() -> None:
    """Anchor the versions written before this revision to their events, record the head.

    Copied from the log as it stands: what was tampered before the upgrade still shows as
    the chain's or the replay's breaks, never as a fresh anchor hiding them.
    """
    bind = op.get_bind()
    events = sa.table(
        "audit_events",
        sa.column("seq", sa.BigInteger()),
        sa.column("action", sa.String()),
        sa.column("payload", sa.Text()),
        sa.column("hash", sa.String()),
    )
    versions = sa.table(
        "strategy_versions",
        sa.column("strategy_id", sa.String()),
        sa.column("version", sa.Integer()),
        sa.column("audit_seq", sa.BigInteger()),
        sa.column("audit_hash", sa.String()),
    )
    head = sa.table(
        "audit_head",
        sa.column("id", sa.Integer()),
        sa.column("seq", sa.BigInteger()),
        sa.column("hash", sa.String()),
    )
    last = None
    for seq, action, payload, digest in bind.execute(
        sa.select(events.c.seq, events.c.action, events.c.payload, events.c.hash).order_by(
            events.c.seq
        )
    ):
        last = (seq, digest)
        if action != "strategy_registered":
            continue
        try:
            body = json.loads(payload)
            strategy_id, version = body["strategy_id"], body["version"]
        except (ValueError, KeyError, TypeError):
            continue  # an unreadable event: the chain check reports it
        bind.execute(
            versions.update()
            .where(versions.c.strategy_id == strategy_id, versions.c.version == version)
            .values(audit_seq=seq, audit_hash=digest)
        )
    if last is not None:
        bind.execute(head.insert().values(id=1, seq=last[0], hash=last[1]))


def downgrade() -> None:
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("mac")
    with op.batch_alter_table("strategy_versions") as batch:
        batch.drop_column("audit_hash")
        batch.drop_column("audit_seq")
