"""The append-only, hash-chained audit log in the registry's database."""

import json
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.tables import AuditEventRow, AuditHeadRow
from quantdesk.domain.audit import (
    GENESIS_HASH,
    AuditAnchor,
    AuditEvent,
    AuditKey,
    head_mac,
    seal,
)
from quantdesk.domain.strategies.canonical import canonical_json

_HEAD_ID = 1


def append_event(
    session: Session,
    actor: str,
    action: str,
    subject: str,
    payload: dict[str, object],
    at_ns: int,
    key: AuditKey | None = None,
) -> AuditEvent:
    """Add the next event inside the caller's (locked) transaction, linked to the last one.

    The head row moves to it in the same transaction; with a key both carry its seal.
    """
    last = session.execute(
        select(AuditEventRow.seq, AuditEventRow.hash).order_by(AuditEventRow.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (1, GENESIS_HASH) if last is None else (last.seq + 1, last.hash)
    body = json.loads(canonical_json(payload))
    sealed = seal(seq, at_ns, actor, action, subject, body, prev_hash, key)
    session.add(
        AuditEventRow(
            seq=sealed.seq,
            at_ns=sealed.at_ns,
            actor=sealed.actor,
            action=sealed.action,
            subject=sealed.subject,
            payload=canonical_json(sealed.payload),
            prev_hash=sealed.prev_hash,
            hash=sealed.hash,
            mac=sealed.mac,
        )
    )
    session.flush()  # the primary key on seq rejects a concurrent writer's twin here
    head = AuditAnchor(seq=sealed.seq, hash=sealed.hash)
    session.merge(
        AuditHeadRow(
            id=_HEAD_ID,
            seq=head.seq,
            hash=head.hash,
            mac=None if key is None else head_mac(key, head),
        )
    )
    return sealed


def event_from_row(row: AuditEventRow) -> AuditEvent:
    try:
        payload = json.loads(row.payload)
    except ValueError:  # an edited row: keep it, its hash check will fail
        payload = {"unreadable_payload": row.payload}
    return AuditEvent(
        seq=row.seq,
        at_ns=row.at_ns,
        actor=row.actor,
        action=row.action,
        subject=row.subject,
        payload=payload if isinstance(payload, dict) else {"unreadable_payload": row.payload},
        prev_hash=row.prev_hash,
        hash=row.hash,
        mac=row.mac,
    )


class SqlAuditLog:
    """The ``AuditLog`` port over the registry's database."""

    _PAGE = 1000

    def __init__(self, database: Database, key: AuditKey | None = None) -> None:
        self._database = database
        self._key = key

    def append(
        self, actor: str, action: str, subject: str, payload: dict[str, object], at_ns: int
    ) -> AuditEvent:
        return self._database.write(
            lambda session: append_event(session, actor, action, subject, payload, at_ns, self._key)
        )

    def events(self, after_seq: int = 0) -> Iterator[AuditEvent]:
        """Every event after ``after_seq``, in order, read a page at a time."""
        while True:
            with self._database.reading() as session:
                rows = session.scalars(
                    select(AuditEventRow)
                    .where(AuditEventRow.seq > after_seq)
                    .order_by(AuditEventRow.seq)
                    .limit(self._PAGE)
                ).all()
                page = [event_from_row(row) for row in rows]
            yield from page
            if len(page) < self._PAGE:
                return
            after_seq = page[-1].seq

    def head(self) -> tuple[AuditAnchor, str | None] | None:
        """The stored head and its seal; None when no event was ever written."""
        with self._database.reading() as session:
            row = session.get(AuditHeadRow, _HEAD_ID)
            if row is None:
                return None
            return AuditAnchor(seq=row.seq, hash=row.hash), row.mac
