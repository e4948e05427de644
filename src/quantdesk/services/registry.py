"""The strategy registry: the one place strategies are defined, versioned and audited.

Backtests and live sessions name exact versions from here. Nothing is changed in place: a
changed definition is a new version, re-registering unchanged content returns the version
that holds it, and every change is an audit event committed with it. Listeners hear about
changes after they are stored (a failing listener never undoes a change).
"""

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from quantdesk.domain.audit import (
    GENESIS_HASH,
    AuditAnchor,
    AuditBreak,
    AuditEvent,
    AuditKey,
    check_anchor,
    check_head,
    verify_chain,
)
from quantdesk.domain.audit_replay import replay_registry
from quantdesk.domain.errors import InvalidInputError, NotFoundError
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.diff import FieldChange, diff_definitions
from quantdesk.domain.strategies.families import CustomParameters, StrategyFamily
from quantdesk.domain.strategies.problems import DefinitionProblem, InvalidDefinitionError
from quantdesk.domain.strategies.versions import (
    StrategyAction,
    StrategyChange,
    StrategyVersion,
    parse_ref,
    validate_tag,
)
from quantdesk.domain.text import validate_actor
from quantdesk.services.plugins import PluginGate, PluginUse
from quantdesk.services.ports import (
    AuditLog,
    ConfigSchemaChecker,
    Expect,
    StrategyChangeListener,
    StrategyStore,
)
from quantdesk.services.ports.plugins import PluginClass

log = logging.getLogger(__name__)
SEQUENCE_MAX = 2**63 - 1
"""The largest audit sequence number either database can hold (a 64-bit integer)."""
Clock = Callable[[], int]
Versions = list[StrategyVersion]  # aliases: the method named ``list`` shadows the builtin
Changes = list[FieldChange]
Events = list[AuditEvent]
AnchorSource = Callable[[], Iterable[tuple[str, AuditAnchor]]]
"""Anchors recorded outside the database, each with where it was found (e.g. a run)."""
TagGuard = Callable[[StrategyVersion, str], None]
"""Asked before a tag is stored; raises to refuse it (the promotion gate's ``check_tag``)."""


@dataclass(frozen=True)
class AuditReport:
    """What ``verify_audit`` checked and every break it found (empty: every link holds)."""

    events: int
    anchors: int
    keyed: bool
    breaks: list[AuditBreak]

    @property
    def holds(self) -> bool:
        return not self.breaks


@dataclass(frozen=True)
class Registration:
    """The stored version, and whether this call created it (False: same content existed)."""

    stored: StrategyVersion
    created: bool


class StrategyRegistry:
    def __init__(
        self,
        store: StrategyStore,
        audit: AuditLog,
        schema_checker: ConfigSchemaChecker,
        clock: Clock = time.time_ns,
        *,
        key: AuditKey | None = None,
        anchors: AnchorSource = tuple,
        plugins: PluginGate | None = None,
    ) -> None:
        self._store = store
        self._plugins = PluginGate() if plugins is None else plugins  # default: built-ins only
        self._key = key
        self._anchors = anchors
        self._audit = audit
        self._schemas = schema_checker
        self._clock = clock
        self._listeners: list[StrategyChangeListener] = []
        self._tag_guard: TagGuard | None = None

    # --- changes -----------------------------------------------------------------------------

    def register(
        self, definition: StrategyDefinition, author: str, reason: str = ""
    ) -> Registration:
        """Version 1 for a new strategy, n+1 for changed content, the existing version else."""
        return self._register(definition, author, reason, "any")

    def add(self, definition: StrategyDefinition, author: str, reason: str = "") -> Registration:
        """Like ``register``, but a strategy that exists with other content is a conflict."""
        return self._register(definition, author, reason, "new")

    def update(self, definition: StrategyDefinition, author: str, reason: str = "") -> Registration:
        """Like ``register``, but the strategy must exist already."""
        return self._register(definition, author, reason, "existing")

    def deprecate(
        self, strategy_id: str, version: int, actor: str, reason: str = ""
    ) -> StrategyVersion:
        at_ns = self._clock()
        stored, changed = self._store.deprecate(
            strategy_id, version, actor=_actor(actor), reason=reason, at_ns=at_ns
        )
        if changed:
            self._publish(StrategyAction.DEPRECATED, stored, actor, at_ns)
        return stored

    def tag(self, strategy_id: str, version: int, tag: str, actor: str) -> StrategyVersion:
        if self._tag_guard is not None:  # before anything is stored: CLI and API alike
            self._tag_guard(self.get(strategy_id, version), validate_tag(tag))
        at_ns = self._clock()
        stored, changed = self._store.tag(
            strategy_id, version, validate_tag(tag), actor=_actor(actor), at_ns=at_ns
        )
        if changed:
            self._publish(StrategyAction.TAGGED, stored, actor, at_ns, tag=tag)
        return stored

    def guard_tags(self, guard: TagGuard | None) -> None:
        """Install the check every tag must pass (None: none); bootstrap sets the gate's."""
        self._tag_guard = guard

    def subscribe(self, listener: StrategyChangeListener) -> Callable[[], None]:
        """Call ``listener`` after each stored change; returns the function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    # --- reads -------------------------------------------------------------------------------

    def get(self, strategy_id: str, version: int | None = None) -> StrategyVersion:
        """One version (the newest when ``version`` is None), or NotFoundError."""
        found = self._store.get(strategy_id, version)
        if found is None:
            which = strategy_id if version is None else f"{strategy_id}@{version}"
            raise NotFoundError(
                f"strategy {which} is not registered", hint="see `quantdesk strategy list`"
            )
        return found

    def resolve(self, ref: str) -> StrategyVersion:
        """``ID`` (newest), ``ID@VERSION`` or ``ID@TAG``."""
        strategy_id, selector = parse_ref(ref)
        if selector is None:
            return self.get(strategy_id)
        if selector.isdigit():
            return self.get(strategy_id, int(selector))
        found = self._store.tagged(strategy_id, selector)
        if found is None:
            raise NotFoundError(
                f"strategy {strategy_id} has no version tagged {selector!r}",
                hint=f"see `quantdesk strategy history {strategy_id}`",
            )
        return found

    def list(self, family: StrategyFamily | None = None, tag: str | None = None) -> Versions:
        """Per strategy its newest version (or, with ``tag``, the version tagged so)."""
        return self._store.latest(family=family, tag=tag)

    def history(self, strategy_id: str) -> Versions:
        versions = self._store.versions(strategy_id)
        if not versions:
            raise NotFoundError(
                f"strategy {strategy_id} is not registered", hint="see `quantdesk strategy list`"
            )
        return versions

    def diff(self, strategy_id: str, old: int, new: int) -> Changes:
        return diff_definitions(
            self.get(strategy_id, old).definition, self.get(strategy_id, new).definition
        )

    def audit_events(self, after_seq: int = 0) -> Events:
        if not 0 <= after_seq <= SEQUENCE_MAX:
            raise InvalidInputError(
                f"sequence number {after_seq} is outside 0 .. {SEQUENCE_MAX:,}",
                hint="audit events are numbered from 1",
            )
        return list(self._audit.events(after_seq))

    def audit_head(self) -> AuditAnchor:
        """The chain's head now (seq 0 when empty): what a run result records as its anchor."""
        hint = self._head_seq_hint()
        last = _last(self._audit.events(hint))
        if last is None and hint:  # the head row points past the log: read it all
            last = _last(self._audit.events())
        return AuditAnchor(seq=0, hash=GENESIS_HASH) if last is None else _anchor(last)

    def _head_seq_hint(self) -> int:
        stored = self._audit.head()
        return 0 if stored is None else max(stored[0].seq - 1, 0)

    def verify_audit(self) -> AuditReport:
        """Every break between the log, its anchors and the stored registry (none: it holds).

        The chain (each event's hash and its link to the one before; with a key, each seal);
        the stored head; the replay of every event against the versions (their content
        recomputed), tags and deprecations; the anchors recorded by run results.
        """
        events = list(self._audit.events())
        breaks = verify_chain(events, self._key)
        stored_head = self._audit.head()
        head, head_seal = (None, None) if stored_head is None else stored_head
        breaks += check_head(events[-1] if events else None, head, head_seal, self._key)
        # the registry replays its own events; the service's (requests, limits) are only chained
        mine = [event for event in events if event.action.startswith("strategy_")]
        breaks += replay_registry(mine, self._store.records())
        hashes = {event.seq: event.hash for event in events}
        last_seq = events[-1].seq if events else 0
        anchors = list(self._anchors())
        for where, anchor in anchors:
            broken = check_anchor(where, anchor, hashes, last_seq)
            if broken is not None:
                breaks.append(broken)
        return AuditReport(len(events), len(anchors), self._key is not None, breaks)

    # --- inside ------------------------------------------------------------------------------

    def _register(
        self, definition: StrategyDefinition, author: str, reason: str, expect: Expect
    ) -> Registration:
        self._check_custom_config(definition)
        candidate = definition.model_copy(
            update={
                "version": None,
                "author": None,
                "created_at": None,
                "reason": reason or definition.reason,  # the file's own reason unless given
            }
        )
        at_ns = self._clock()
        stored, created = self._store.add_version(
            candidate, actor=_actor(author), at_ns=at_ns, expect=expect
        )
        if created:
            self._publish(StrategyAction.REGISTERED, stored, author, at_ns)
        return Registration(stored, created)

    def _check_custom_config(self, definition: StrategyDefinition) -> None:
        """A custom class must be allowed (checked before anything is imported), its config
        must satisfy its schema, and then the class is imported in a child process."""
        params = definition.parameters
        if not isinstance(params, CustomParameters):
            return
        use = PluginUse("parameters.", PluginClass(params.strategy_path, params.config_path))
        self._plugins.check([use])
        refusal = self._schemas.schema_problem(params.config_schema)
        if refusal is not None:  # the schema's own fault: named as its field, not the config's
            raise InvalidDefinitionError(
                [DefinitionProblem(("parameters", "config_schema"), refusal)]
            )
        problems = self._schemas.problems(params.config_schema, params.config)
        if problems:
            raise InvalidDefinitionError(
                [
                    DefinitionProblem(("parameters", "config", *_path(where)), message)
                    for where, message in problems
                ]
            )
        self._plugins.vet([use])

    def _publish(
        self,
        action: StrategyAction,
        stored: StrategyVersion,
        actor: str,
        at_ns: int,
        tag: str | None = None,
    ) -> None:
        change = StrategyChange(
            action, stored.strategy_id, stored.version, stored.content_hash, actor, at_ns, tag
        )
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:  # the change is stored: one listener must not hide it from others
                log.exception("strategy change listener failed on %s", change)


def _last(events: Iterable[AuditEvent]) -> AuditEvent | None:
    last = None
    for last in events:  # noqa: B007 - the loop keeps the last one
        pass
    return last


def _anchor(event: AuditEvent) -> AuditAnchor:
    return AuditAnchor(seq=event.seq, hash=event.hash)


def _actor(name: str) -> str:
    return validate_actor(name)  # trimmed, 1-200 printable characters: what both databases hold


def _path(where: str) -> tuple[str, ...]:
    return tuple(part for part in where.split("/") if part)
