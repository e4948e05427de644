"""Kill switches: in the desk's database (``SqlKillSwitchStore``, the default), or in a JSON
file changed atomically under a lock (``FileKillSwitchStore``, what desks kept before issue
14: its thrown switches move into the database on first use, so none is lost).

Both keep an append-only log of every throw and release beside the state.
"""

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import BigInteger, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.tables import Base
from quantdesk.domain.risk import KillSwitch, KillSwitchScope


class KillSwitchRow(Base):
    """A thrown switch (one per scope and target); released: the row is gone, the log stays."""

    __tablename__ = "kill_switches"

    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    target: Mapped[str] = mapped_column(String(200), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    thrown_at_ns: Mapped[int] = mapped_column(BigInteger)


class KillSwitchEventRow(Base):
    """Append-only: every throw and release, in order."""

    __tablename__ = "kill_switch_events"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    at_ns: Mapped[int] = mapped_column(BigInteger)


class SqlKillSwitchStore:
    """The ``KillSwitchStore`` port on SQLAlchemy (SQLite or PostgreSQL).

    ``legacy``: the file store a desk used before; its thrown switches are carried into the
    database once (a halt must survive the move) and its file is renamed ``.imported``.
    """

    def __init__(self, database: Database, legacy: "FileKillSwitchStore | None" = None) -> None:
        self._database = database
        self._legacy = legacy

    def thrown(self) -> list[KillSwitch]:
        self._import_legacy()
        with self._database.reading() as session:
            rows = session.scalars(
                select(KillSwitchRow).order_by(KillSwitchRow.thrown_at_ns, KillSwitchRow.scope)
            ).all()
            return [_switch(row) for row in rows]

    def throw(self, switch: KillSwitch) -> None:
        self._import_legacy()
        self._database.write(lambda session: _throw(session, switch, "kill"))

    def release(self, scope: KillSwitchScope, target: str, actor: str, at_ns: int) -> bool:
        self._import_legacy()

        def work(session: Session) -> bool:
            row = session.get(KillSwitchRow, (scope.value, target))
            if row is None:
                return False
            session.delete(row)
            session.add(
                KillSwitchEventRow(
                    action="release",
                    scope=scope.value,
                    target=target,
                    reason=None,
                    actor=actor,
                    at_ns=at_ns,
                )
            )
            return True

        return self._database.write(work)

    def _import_legacy(self) -> None:
        legacy, self._legacy = self._legacy, None
        if legacy is None or not legacy.holds_state:
            return
        switches = legacy.thrown()

        def work(session: Session) -> None:
            for switch in switches:
                if session.get(KillSwitchRow, (switch.scope.value, switch.target)) is None:
                    _throw(session, switch, "import")

        self._database.write(work)
        legacy.retire()


def _throw(session: Session, switch: KillSwitch, action: str) -> None:
    row = session.get(KillSwitchRow, (switch.scope.value, switch.target))
    if row is None:
        row = KillSwitchRow(scope=switch.scope.value, target=switch.target)
        session.add(row)
    row.reason, row.actor, row.thrown_at_ns = switch.reason, switch.actor, switch.thrown_at_ns
    session.add(
        KillSwitchEventRow(
            action=action,
            scope=switch.scope.value,
            target=switch.target,
            reason=switch.reason,
            actor=switch.actor,
            at_ns=switch.thrown_at_ns,
        )
    )


def _switch(row: KillSwitchRow) -> KillSwitch:
    return KillSwitch(
        scope=KillSwitchScope(row.scope),
        target=row.target,
        reason=row.reason,
        actor=row.actor,
        thrown_at_ns=row.thrown_at_ns,
    )


class FileKillSwitchStore:
    """``QUANTDESK_HOME/risk/kill_switches.json`` (the state) and ``kill_switches.log.jsonl``."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._state = directory / "kill_switches.json"
        self._log = directory / "kill_switches.log.jsonl"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._directory.mkdir(parents=True, exist_ok=True)
        with (self._directory / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @property
    def holds_state(self) -> bool:
        return self._state.exists()

    def retire(self) -> None:
        """Keep the file as ``.imported`` once its switches live elsewhere (another process
        may have retired it first)."""
        with contextlib.suppress(FileNotFoundError):
            self._state.rename(self._state.with_suffix(".json.imported"))

    def thrown(self) -> list[KillSwitch]:
        if not self._state.exists():
            return []
        return [KillSwitch.model_validate(item) for item in json.loads(self._state.read_text())]

    def throw(self, switch: KillSwitch) -> None:
        with self._locked():
            current = {s.key: s for s in self.thrown()}
            current[switch.key] = switch
            self._write(list(current.values()))
            self._append({"action": "kill", **switch.model_dump(mode="json")})

    def release(self, scope: KillSwitchScope, target: str, actor: str, at_ns: int) -> bool:
        with self._locked():
            current = self.thrown()
            kept = [s for s in current if not (s.scope is scope and s.target == target)]
            if len(kept) == len(current):
                return False
            self._write(kept)
            self._append(
                {
                    "action": "release",
                    "scope": scope.value,
                    "target": target,
                    "actor": actor,
                    "at_ns": at_ns,
                }
            )
            return True

    def _write(self, switches: list[KillSwitch]) -> None:
        partial = self._state.with_suffix(".json.partial")
        with partial.open("w") as handle:
            json.dump([s.model_dump(mode="json") for s in switches], handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(self._state)

    def _append(self, entry: dict[str, object]) -> None:
        with self._log.open("a") as handle:
            handle.write(json.dumps(entry, sort_keys=True) + "\n")
