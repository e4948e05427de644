"""What ``/strategies`` takes and answers.

A definition travels as the registry's own document (``StrategyDefinition``: the contract a
file holds too); everything around it (versions, tags, validation outcomes) is this module's
own shape, so the registry's internals can change without changing the API.
"""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, WithJsonSchema

from quantdesk.api.schemas.jobs import JobOut
from quantdesk.domain.compatibility import CompatibilityProblem, CompatibilityReport
from quantdesk.domain.market_feeds import MarketData
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.diff import FieldChange
from quantdesk.domain.strategies.families import StrategyFamily
from quantdesk.domain.strategies.versions import VERSION_MAX, StrategyVersion
from quantdesk.domain.text import REASON_MAX_LENGTH, free_text

REF_MAX_LENGTH = 120
"""``ID@TAG`` at its longest is 104 characters (63 + 1 + 40); anything longer is refused
before the registry's parser sees it."""

_TEXT = {"type": "string"}
_MAYBE_TEXT = {"anyOf": [_TEXT, {"type": "null"}]}
Definition = Annotated[
    StrategyDefinition,
    WithJsonSchema(
        {
            "type": "object",
            "title": "StrategyDefinition",
            "description": "a strategy definition as a file holds it; its parameters are its "
            "family's (GET /strategies/families has each family's schema)",
            "required": ["strategy_id", "family", "name", "instruments", "parameters"],
            "properties": {
                "strategy_id": _TEXT,
                "version": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                "family": {"enum": [f.value for f in StrategyFamily]},
                "name": _TEXT,
                "description": _TEXT,
                "instruments": {"type": "array", "items": _TEXT},
                "bar_spec": _TEXT,
                "market_data": {"enum": [m.value for m in MarketData]},
                "parameters": {"type": "object"},
                "signal_subscriptions": {"type": "array", "items": _TEXT},
                "risk": {"type": "object"},
                "author": _MAYBE_TEXT,
                "created_at": _MAYBE_TEXT,
                "reason": _TEXT,
            },
        }
    ),
]
"""The domain's definition, validated as the registry validates it; its JSON schema is
stated here because the domain's own leaves ``parameters`` as the families' closed base
(each family's schema is a separate document)."""
Reason = Annotated[str, Field(max_length=REASON_MAX_LENGTH), AfterValidator(free_text)]
Version = Annotated[int, Field(ge=1, le=VERSION_MAX)]


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StrategyCreate(_Body):
    """A new strategy (version 1) or, for an existing one, its next version."""

    definition: Definition
    reason: Reason = ""


class StrategyUpdate(_Body):
    """The next version of the strategy named in the path (its id must match)."""

    definition: Definition
    reason: Reason = ""


class TagAssign(_Body):
    version: Version


class Deprecate(_Body):
    reason: Reason = ""


class CheckOutcome(_Body):
    check: str
    reason: str

    @classmethod
    def of(cls, problem: CompatibilityProblem) -> "CheckOutcome":
        return cls(check=problem.check.value, reason=problem.reason)


class ValidationOutcome(_Body):
    """A version's newest validation on this desk (``ok``: no problem found)."""

    ok: bool
    content_hash: str
    checked_at_ns: int
    engine_version: str
    problems: list[CheckOutcome]
    skipped: list[CheckOutcome]
    smoke_seconds: float | None

    @classmethod
    def of(cls, report: CompatibilityReport) -> "ValidationOutcome":
        return cls(
            ok=report.ok,
            content_hash=report.content_hash,
            checked_at_ns=report.checked_at_ns,
            engine_version=report.engine_version,
            problems=[CheckOutcome.of(p) for p in report.problems],
            skipped=[CheckOutcome.of(p) for p in report.skipped],
            smoke_seconds=report.smoke_seconds,
        )


class DeprecationOut(_Body):
    actor: str
    reason: str
    at_ns: int


class StrategySummary(_Body):
    """One stored version as a list shows it."""

    strategy_id: str
    version: int
    ref: str
    family: StrategyFamily
    name: str
    content_hash: str
    tags: list[str]
    deprecated: bool
    author: str | None
    created_ns: int | None = Field(description="when the registry stored it (ns UTC)")
    reason: str

    @classmethod
    def of(cls, stored: StrategyVersion) -> "StrategySummary":
        definition = stored.definition
        created = definition.created_at
        return cls(
            strategy_id=stored.strategy_id,
            version=stored.version,
            ref=stored.ref,
            family=definition.family,
            name=definition.name,
            content_hash=stored.content_hash,
            tags=list(stored.tags),
            deprecated=stored.deprecation is not None,
            author=definition.author,
            created_ns=None if created is None else _ns(created),
            reason=definition.reason,
        )


class StrategyDetail(StrategySummary):
    """One version in full: its definition, deprecation and newest validation outcome."""

    definition: Definition
    deprecation: DeprecationOut | None
    validation: ValidationOutcome | None

    @classmethod
    def full(cls, stored: StrategyVersion, outcome: CompatibilityReport | None) -> "StrategyDetail":
        deprecation = stored.deprecation
        return cls(
            **StrategySummary.of(stored).model_dump(),
            definition=stored.definition,
            deprecation=None if deprecation is None else DeprecationOut(**deprecation.model_dump()),
            validation=None if outcome is None else ValidationOutcome.of(outcome),
        )


class Registered(_Body):
    """The version a registration stored, and whether it made it (False: same content)."""

    created: bool
    strategy: StrategyDetail


class Change(_Body):
    path: str
    kind: Literal["changed", "added", "removed"]
    old: JsonValue = None
    new: JsonValue = None

    @classmethod
    def of(cls, change: FieldChange) -> "Change":
        return cls(path=change.path, kind=change.kind, old=change.old, new=change.new)


class StrategyDiff(_Body):
    strategy_id: str
    from_version: int
    to_version: int
    changes: list[Change]


class FamilySchema(_Body):
    """A family's parameters as JSON schema (types, bounds, defaults, descriptions)."""

    family: StrategyFamily
    parameters_schema: dict[str, Any]


class StrategyExport(_Body):
    """A family version as a standalone module the developer takes over."""

    ref: str
    module: str
    strategy_path: str
    config_path: str
    source: str


class ValidationAccepted(_Body):
    """Validation submitted as a job: the version it checks and the job to follow."""

    ref: str
    job: JobOut


def _ns(at: datetime) -> int:
    """A stored version's time (UTC, microseconds) as int ns, exactly."""
    delta = at.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1_000
