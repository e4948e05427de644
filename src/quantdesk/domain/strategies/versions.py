"""What the registry keeps around each version: references, tags, deprecations, changes."""

import re
from dataclasses import dataclass
from enum import StrEnum

from pydantic import (
    BaseModel,
    ConfigDict,
)

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.strategies.definition import STRATEGY_ID_PATTERN, StrategyDefinition
from quantdesk.domain.text import (
    is_whole_match,
    shown,
)

_TAG = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")


_VERSION = re.compile(r"[0-9]{1,10}")


VERSION_MAX = 2**31 - 1


"""The version column is a 32-bit integer on both databases."""


def validate_tag(tag: str) -> str:
    if not is_whole_match(_TAG, tag):
        raise InvalidInputError(
            f"tag {shown(tag)} is not valid: 1-40 of a-z, 0-9, '.', '-', '_' (e.g. validated, live)"
        )
    return tag


class StrategyAction(StrEnum):
    """The registry's audit actions; also the names of the change events it publishes."""

    REGISTERED = "strategy_registered"
    DEPRECATED = "strategy_deprecated"
    TAGGED = "strategy_tagged"


class Deprecation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    actor: str
    reason: str
    at_ns: int


class StrategyVersion(BaseModel):
    """A stored version with what the registry says about it: its tags and deprecation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    definition: StrategyDefinition
    content_hash: str
    tags: tuple[str, ...] = ()
    deprecation: Deprecation | None = None

    @property
    def strategy_id(self) -> str:
        return self.definition.strategy_id

    @property
    def version(self) -> int:
        assert self.definition.version is not None, "a stored definition has a version"
        return self.definition.version

    @property
    def ref(self) -> str:
        return f"{self.strategy_id}@{self.version}"


@dataclass(frozen=True)
class StrategyChange:
    """What subscribers hear after a change is stored (regeneration, hot swap, the UI)."""

    action: StrategyAction
    strategy_id: str
    version: int
    content_hash: str
    actor: str
    at_ns: int
    tag: str | None = None


def parse_ref(ref: str) -> tuple[str, str | None]:
    """``ID`` or ``ID@VERSION`` (``VERSION`` a number or a tag) into its two parts.

    A number is a version in 1..2^31-1 (what the database stores), anything else a tag.
    """
    strategy_id, at, selector = ref.partition("@")
    if not is_whole_match(STRATEGY_ID_PATTERN, strategy_id) or (at and not selector):
        raise InvalidInputError(
            f"{shown(ref)} is not a strategy reference", hint="write ID, ID@VERSION or ID@TAG"
        )
    if not selector:
        return strategy_id, None
    if selector.isdecimal() or selector.isdigit():
        validate_version(selector)
    else:
        validate_tag(selector)
    return strategy_id, selector


def is_strategy_key(strategy_id: str, version: int | None = None) -> bool:
    """Whether ``strategy_id`` (and ``version``) could name a stored version at all."""
    in_range = version is None or 1 <= version <= VERSION_MAX
    return in_range and is_whole_match(STRATEGY_ID_PATTERN, strategy_id)


def validate_version(selector: str | int) -> int:
    """A version number as the registry stores them: 1..2^31-1 (``InvalidInputError`` else)."""
    text = str(selector)
    number = int(text) if is_whole_match(_VERSION, text) else 0
    if not 1 <= number <= VERSION_MAX:
        raise InvalidInputError(
            f"version {shown(text)} is not a version number: 1 to {VERSION_MAX}",
            hint="see the strategy's history for its versions",
        )
    return number
