"""``SqlPolicyStore``: validation policy versions, each with its audit event.

A version and its ``validation_policy_set`` event commit together or not at all, under the
database's write lock, so the next version number is decided from what is stored then.
"""

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from quantdesk.adapters.storage.audit_log import append_event
from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.validation_tables import ValidationPolicyRow
from quantdesk.domain.audit import AuditKey
from quantdesk.domain.correlation import current_correlation_id
from quantdesk.domain.strategies.canonical import canonical_json
from quantdesk.domain.validation.policy import StoredPolicy, ValidationPolicy
from quantdesk.services.ports.validation import POLICY_SET


class SqlPolicyStore:
    """The ``PolicyStore`` port on the registry's database (SQLite or PostgreSQL)."""

    def __init__(self, database: Database, key: AuditKey | None = None) -> None:
        self._database = database
        self._key = key

    def add(
        self, policy: ValidationPolicy, *, sha256: str, actor: str, at_ns: int
    ) -> tuple[StoredPolicy, bool]:
        body = policy.model_dump(mode="json")

        def work(session: Session) -> tuple[StoredPolicy, bool]:
            newest = _newest(session, policy.name)
            if newest is not None and newest.sha256 == sha256:
                return _stored(newest), False
            version = 1 if newest is None else newest.version + 1
            append_event(
                session,
                actor,
                POLICY_SET,
                f"validation-policy:{policy.name}@{version}",
                {
                    "name": policy.name,
                    "version": version,
                    "sha256": sha256,
                    "policy": body,
                    "correlation_id": current_correlation_id(),
                },
                at_ns,
                self._key,
            )
            row = ValidationPolicyRow(
                name=policy.name,
                version=version,
                body=canonical_json(body),
                sha256=sha256,
                author=actor,
                created_at_ns=at_ns,
            )
            session.add(row)
            session.flush()  # the (name, version) key refuses a concurrent twin here
            return _stored(row), True

        return self._database.write(work)

    def current(self, name: str) -> StoredPolicy | None:
        with self._database.reading() as session:
            row = _newest(session, name)
            return None if row is None else _stored(row)

    def get(self, name: str, version: int) -> StoredPolicy | None:
        if not 1 <= version <= 2**31 - 1:
            return None
        with self._database.reading() as session:
            row = session.get(ValidationPolicyRow, (name[:64], version))
            return None if row is None or row.name != name else _stored(row)

    def history(self, name: str) -> list[StoredPolicy]:
        with self._database.reading() as session:
            rows = session.scalars(
                select(ValidationPolicyRow)
                .where(ValidationPolicyRow.name == name[:64])
                .order_by(ValidationPolicyRow.version)
            ).all()
            return [_stored(row) for row in rows if row.name == name]

    def names(self) -> list[str]:
        with self._database.reading() as session:
            return list(
                session.scalars(
                    select(ValidationPolicyRow.name).distinct().order_by(ValidationPolicyRow.name)
                )
            )


def _newest(session: Session, name: str) -> ValidationPolicyRow | None:
    row = session.scalars(
        select(ValidationPolicyRow)
        .where(ValidationPolicyRow.name == name[:64])  # longer names cannot be stored
        .order_by(ValidationPolicyRow.version.desc())
        .limit(1)
    ).first()
    return row if row is not None and row.name == name else None


def _stored(row: ValidationPolicyRow) -> StoredPolicy:
    return StoredPolicy(
        policy=ValidationPolicy.model_validate(json.loads(row.body)),
        version=row.version,
        sha256=row.sha256,
        author=row.author,
        created_at_ns=row.created_at_ns,
    )
