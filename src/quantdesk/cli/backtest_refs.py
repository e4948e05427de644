"""``backtest run --strategy``: registry references as given, or a shorthand's definitions
with the versions registering them will give (registered once the run has succeeded)."""

from typing import Any

from quantdesk.cli.request_errors import listed_problems, shorthand_error
from quantdesk.domain.documents import DocumentLimitError, loads_json
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.instruments import validate_instrument_id
from quantdesk.domain.market_data import BarSpec
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.problems import InvalidDefinitionError
from quantdesk.services.platform import Platform
from quantdesk.services.shorthand import SHORTHANDS, pending_versions, shorthand_definitions


def strategy_refs(
    platform: Platform,
    strategies: list[str],
    instruments: list[str],
    bar_spec: str | None,
    pairs: list[str],
) -> tuple[list[str], dict[str, Any], list[StrategyDefinition]]:
    """The references to run: each --strategy as given, or a shorthand's definitions.

    Returns the references, the run options shorthand parameters named, and the shorthands'
    definitions with the versions registering them will give (registered after the run).
    """
    shorthands = [s for s in strategies if s in SHORTHANDS]
    if shorthands and not instruments:
        raise InvalidInputError(
            f"the {shorthands[0]} shorthand needs at least one --instrument",
            hint=f"e.g. --strategy {shorthands[0]} --instrument SYN01.SIM; or run a registered "
            "strategy by reference (`quantdesk strategy list`)",
        )
    if not shorthands:
        extra = [f for f, given in (("--instrument", instruments), ("--param", pairs)) if given]
        if bar_spec is not None:
            extra.append("--bar-spec")
        if extra:
            raise InvalidInputError(
                f"{', '.join(extra)} only go(es) with a shorthand strategy "
                f"({', '.join(SHORTHANDS)}) and --instrument",
                hint="a registered strategy's definition says what it trades and how",
            )
        return list(strategies), {}, []
    problems = []
    for instrument_id in dict.fromkeys(instruments):
        try:
            validate_instrument_id(instrument_id)
        except ValueError as error:
            problems.append(f"--instrument: {error}")
    spec = bar_spec or "1-MINUTE-LAST"
    try:
        BarSpec.parse(spec)
    except ValueError as error:
        problems.append(f"--bar-spec: {error}")
    if problems:
        raise InvalidInputError(listed_problems(problems))
    params = params_of(pairs)
    refs: list[str] = []
    options: dict[str, Any] = {}
    pending: list[StrategyDefinition] = []
    for name in strategies:
        if name not in SHORTHANDS:
            refs.append(name)
            continue
        try:
            made = shorthand_definitions(name, instruments, spec, params)
        except InvalidDefinitionError as error:
            raise shorthand_error(error) from None
        options = made.run_options
        versions = pending_versions(platform.registry, made.definitions)
        refs.extend(f"{d.strategy_id}@{d.version}" for d in versions)
        pending.extend(versions)
    return refs, options, pending


def params_of(pairs: list[str]) -> dict[str, Any]:
    """``NAME=VALUE``; values read as JSON (10, 0.5, true) and otherwise kept as text."""
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise InvalidInputError(f"--param {pair!r} is not NAME=VALUE", hint="e.g. fast=10")
        try:  # within the document limits: a value nested 100,000 deep is refused, not a crash
            params[name.strip()] = loads_json(text)
        except DocumentLimitError as error:
            if error.reason != "not_json":
                raise InvalidInputError(f"--param {name.strip()}: {error.message}") from None
            params[name.strip()] = text  # not JSON: the text it is
    return params
