"""The strategy registry's store, its audit log and the custom-config schema checker."""

from collections.abc import Callable, Iterator, Mapping
from typing import Literal, Protocol

from quantdesk.domain.audit import AuditAnchor, AuditEvent
from quantdesk.domain.audit_replay import RegistryRecords
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.families import StrategyFamily
from quantdesk.domain.strategies.versions import StrategyChange, StrategyVersion

Expect = Literal["new", "existing", "any"]  # what a registration expects to find stored


class StrategyStore(Protocol):
    """Strategy versions, tags and deprecations; every write appends its audit event atomically.

    Writes return the stored version and whether anything changed (repeats are no-ops).
    """

    def add_version(
        self, definition: StrategyDefinition, *, actor: str, at_ns: int, expect: Expect = "any"
    ) -> tuple[StrategyVersion, bool]:
        """Store the next version, unless the newest one has the same content hash.

        ``expect="new"`` refuses a strategy that exists with other content (ConflictError),
        ``"existing"`` one that does not exist (NotFoundError).
        """
        ...

    def deprecate(
        self, strategy_id: str, version: int, *, actor: str, reason: str, at_ns: int
    ) -> tuple[StrategyVersion, bool]: ...

    def tag(
        self, strategy_id: str, version: int, tag: str, *, actor: str, at_ns: int
    ) -> tuple[StrategyVersion, bool]:
        """Point ``tag`` at this version (moving it from another version of the strategy)."""
        ...

    def get(self, strategy_id: str, version: int | None = None) -> StrategyVersion | None:
        """One version; the newest when ``version`` is None."""
        ...

    def tagged(self, strategy_id: str, tag: str) -> StrategyVersion | None: ...

    def versions(self, strategy_id: str) -> list[StrategyVersion]:
        """Oldest first."""
        ...

    def all_versions(self) -> list[StrategyVersion]: ...

    def latest(
        self, family: StrategyFamily | None = None, tag: str | None = None
    ) -> list[StrategyVersion]:
        """Per strategy: the newest version, or the version carrying ``tag``."""
        ...

    def stored_content(self, strategy_id: str, version: int) -> str | None:
        """The canonical JSON exactly as stored (the bytes its content hash covers)."""
        ...

    def records(self) -> RegistryRecords:
        """Every version, tag and deprecation row as stored (unparsed), for the audit."""
        ...


class AuditLog(Protocol):
    """The append-only, hash-chained log of every change (``domain/audit.py``)."""

    def append(
        self, actor: str, action: str, subject: str, payload: dict[str, object], at_ns: int
    ) -> AuditEvent: ...

    def events(self, after_seq: int = 0) -> Iterator[AuditEvent]:
        """In sequence order."""
        ...

    def head(self) -> tuple[AuditAnchor, str | None] | None:
        """The stored head (newest event) and its keyed seal; None before the first event."""
        ...


class ConfigSchemaChecker(Protocol):
    """Checks a custom strategy's free-form config against the JSON schema it carries."""

    def schema_problem(self, schema: Mapping[str, object]) -> str | None:
        """Why the schema itself may not be used (invalid, not self-contained, a pattern of
        unbounded matching time, too large), or None; checked before any value meets it."""
        ...

    def problems(self, schema: Mapping[str, object], value: object) -> list[tuple[str, str]]:
        """(JSON path, message) per violation, empty when valid; a bad schema is a violation."""
        ...


StrategyChangeListener = Callable[[StrategyChange], None]
