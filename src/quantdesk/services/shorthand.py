"""Quick experiments by name: ``ema_cross`` or ``sentiment_reaction`` with a few parameters
become registry definitions, registered (or found, when unchanged) and run by reference.

Before the registry, these names were built-in strategy classes taking their own parameter
names; they keep working so existing commands, scripts and the bench need not change. What
runs is always a registered version: a shorthand with new values is a new version of its
strategy (``ema_cross-syn01``: one per name and instrument, as before, one strategy each).
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from quantdesk.domain.errors import InvalidInputError, NotFoundError
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.families import StrategyFamily
from quantdesk.domain.strategies.problems import (
    DefinitionProblem,
    InvalidDefinitionError,
    parse_definition,
)
from quantdesk.services.registry import StrategyRegistry

RUN_OPTIONS = {"flat_at_stop": "flat_at_end", "trade_until_ns": "trade_until_ns"}
"""Shorthand parameters that are options of the run (request field), not of the strategy."""
SIGNAL_TYPES = "signal_types"
"""A shorthand parameter that is the definition's signal subscriptions."""


@dataclass(frozen=True)
class Shorthand:
    """A name for a family with fixed parameters and parameter names of its own."""

    family: StrategyFamily
    description: str
    renames: Mapping[str, str] = field(default_factory=dict)  # shorthand name -> family name
    fixed: Mapping[str, Any] = field(default_factory=dict)
    signal_subscriptions: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def parameter_name(self, family_name: str) -> str:
        """The shorthand's name of a family parameter (for messages about it)."""
        for short, long in self.renames.items():
            if long == family_name:
                return short
        return family_name


SHORTHANDS: Mapping[str, Shorthand] = {
    "ema_cross": Shorthand(
        family=StrategyFamily.TREND_FOLLOWING,
        description="trend following with EMAs: fast vs slow cross; parameters fast, slow, "
        "trade_size, long_only, atr_stop_multiple (the trend_following family, ma_type ema)",
        renames={"fast": "fast_period", "slow": "slow_period"},
        fixed={"ma_type": "ema"},
        defaults={"trade_size": "100"},
    ),
    "sentiment_reaction": Shorthand(
        family=StrategyFamily.SENTIMENT_REACTION,
        description="news sentiment: in on |score| >= entry_threshold, out below "
        "exit_threshold or after max_holding_bars; parameters entry_threshold, "
        "exit_threshold, min_confidence, max_holding_bars, trade_size; replays SENTIMENT",
        signal_subscriptions=("SENTIMENT",),
        defaults={"trade_size": "100"},
    ),
}


@dataclass(frozen=True)
class ShorthandRun:
    """The definitions a shorthand stands for (one per instrument) and the run options."""

    definitions: list[StrategyDefinition]
    run_options: dict[str, Any]


def shorthand_definitions(
    name: str, instruments: Sequence[str], bar_spec: str, params: Mapping[str, Any]
) -> ShorthandRun:
    """One definition per instrument (id ``NAME-SYMBOL``), parameters renamed to the family's."""
    shorthand = SHORTHANDS.get(name)
    if shorthand is None:
        raise InvalidInputError(
            f"unknown strategy shorthand {name!r}",
            hint=f"shorthands: {', '.join(sorted(SHORTHANDS))}; or a registered strategy "
            "reference ID[@VERSION|@TAG]",
        )
    options = {RUN_OPTIONS[k]: v for k, v in params.items() if k in RUN_OPTIONS}
    subscriptions = list(shorthand.signal_subscriptions)
    parameters: dict[str, Any] = dict(shorthand.defaults)
    for key, value in params.items():
        if key in RUN_OPTIONS:
            continue
        if key == SIGNAL_TYPES:  # the definition's subscriptions, as the old configs took them
            extra = value if isinstance(value, list) else [value]
            subscriptions = list(dict.fromkeys([*subscriptions, *(str(t) for t in extra)]))
            continue
        if key in shorthand.fixed:
            raise InvalidInputError(
                f"parameter {key} is fixed to {shorthand.fixed[key]!r} for {name}",
                hint=f"register a {shorthand.family.value} definition to choose it",
            )
        parameters[shorthand.renames.get(key, key)] = value
    parameters.update(shorthand.fixed)
    definitions = []
    for instrument_id in dict.fromkeys(instruments):
        data = {
            "strategy_id": _strategy_id(name, instrument_id),
            "family": shorthand.family.value,
            "name": f"{name} on {instrument_id}",
            "description": f"registered by the {name} shorthand",
            "instruments": [instrument_id],
            "bar_spec": bar_spec,
            "parameters": parameters,
            "signal_subscriptions": subscriptions,
        }
        try:
            definitions.append(parse_definition(data))
        except InvalidDefinitionError as error:
            raise InvalidDefinitionError(
                [_renamed(shorthand, p) for p in error.problems], source=name
            ) from None
    return ShorthandRun(definitions=definitions, run_options=options)


def _renamed(shorthand: Shorthand, problem: DefinitionProblem) -> DefinitionProblem:
    """A problem with a parameter, under the shorthand's name of it."""
    location = problem.location
    if len(location) >= 2 and location[0] == "parameters":
        location = ("parameters", shorthand.parameter_name(str(location[1])), *location[2:])
    message = problem.message
    for short, long in shorthand.renames.items():  # the names the user typed
        message = re.sub(rf"\b{long}\b", short, message)
    return DefinitionProblem(location, message)


def _strategy_id(name: str, instrument_id: str) -> str:
    symbol = "".join(c for c in instrument_id.rsplit(".", 1)[0].lower() if c.isalnum() or c in "-_")
    return f"{name}-{symbol or 'x'}"[:63]


def pending_versions(
    registry: StrategyRegistry, definitions: Sequence[StrategyDefinition]
) -> list[StrategyDefinition]:
    """Each definition with the version registering it will give: the newest stored one when
    its content is unchanged, the next one otherwise (read only: nothing is registered).

    A shorthand run is checked and run on these, and registered once it has succeeded, so a
    refused run leaves the registry as it was."""
    pending = []
    for definition in definitions:
        try:
            newest = registry.get(definition.strategy_id)
        except NotFoundError:
            version = 1
        else:
            same = newest.content_hash == definition.content_hash
            version = newest.version if same else newest.version + 1
        pending.append(definition.model_copy(update={"version": version}))
    return pending


def register_shorthand(
    registry: StrategyRegistry,
    name: str,
    instruments: Sequence[str],
    bar_spec: str,
    params: Mapping[str, Any],
    author: str,
) -> tuple[list[str], dict[str, Any]]:
    """Register (or find, unchanged) the shorthand's definitions: their exact references
    and the run options the parameters named."""
    run = shorthand_definitions(name, instruments, bar_spec, params)
    return register_definitions(registry, run.definitions, name, author), run.run_options


def register_definitions(
    registry: StrategyRegistry, definitions: Sequence[StrategyDefinition], name: str, author: str
) -> list[str]:
    """Register a shorthand's definitions; their exact references."""
    return [
        registry.register(
            d.model_copy(update={"version": None}), author, f"{name} shorthand"
        ).stored.ref
        for d in definitions
    ]
