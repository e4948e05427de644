"""A refused backtest request, told the way the user gave it.

Flags and request files go through the same model (``BacktestRequest``) and the same
checks, so they meet the same rules in the same words; only the address differs: a flag's
error names the flag (``--balance abc: ...``), a file's its line and field. Several problems
are shown at once (up to :data:`ERRORS_SHOWN`), so one run fixes them all.
"""

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.backtest_checks import StrategyParameterError, error_location
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.strategies.problems import InvalidDefinitionError
from quantdesk.domain.text import SHOWN_MAX_LENGTH, shown

ERRORS_SHOWN = 5
_TOP_FLAGS = {
    "strategies": "--strategy",
    "start_ns": "--start",
    "end_ns": "--end",
    "seed": "--seed",
    "label": "--label",
    "signals": "--signals",
    "flat_at_end": "--param flat_at_stop",
    "trade_until_ns": "--param trade_until_ns",
}
_VENUE_FLAGS = {
    "name": "--instrument",
    "starting_balance": "--balance",
    "default_leverage": "--leverage",
    "maker_fee": "--maker-fee",
    "taker_fee": "--taker-fee",
    "bar_spread": "--bar-spread",
    "base_currency": "--currency",
    "oms_type": "--oms",
    "account_type": "--account",
    "liquidity": "--liquidity",
    "fill_at": "--fill-at",
    "commission_per_unit": "--commission-per-unit",
}
_SCALARS = (str, int, float, Decimal, bool)


def flag_of(location: Sequence[str | int]) -> str | None:
    """The ``backtest run`` flag a request field comes from, if one does."""
    path = tuple(location)
    match path:
        case (str(name), *_) if name in _TOP_FLAGS:
            return _TOP_FLAGS[name]
        case ("venues", int(), str(name), *_) if name in _VENUE_FLAGS:
            return _VENUE_FLAGS[name]
        case ("risk", "limits", str(name), *_):
            return "--" + name.replace("_", "-")
        case ("risk", "on_breach", *_):
            return "--on-breach"
        case ("engine", "log_level", *_):
            return "--log-level"
    return None


def request_from_flags(fields: dict[str, Any]) -> BacktestRequest:
    """The request the flags describe, or one error naming every flag that is wrong."""
    try:
        return BacktestRequest.model_validate(fields)
    except ValidationError as error:
        raise InvalidInputError(
            listed_problems([_flag_problem(e) for e in error.errors()])
        ) from None


def shorthand_error(error: InvalidDefinitionError) -> InvalidInputError:
    """A shorthand's definition refused as it was made from the flags (a ``--param`` value,
    ``--instrument`` or ``--bar-spec``)."""
    problems = []
    for problem in error.problems:
        match problem.location:
            case ("parameters", str(name), *_):
                problems.append(f"--param {name}: {problem.message}")
            case ("parameters",):  # a rule between parameters (fast below slow)
                problems.append(f"--param: {problem.message}")
            case ("instruments", *_):
                problems.append(f"--instrument: {problem.message}")
            case ("bar_spec", *_):
                problems.append(f"--bar-spec: {problem.message}")
            case ("signal_subscriptions", *_):
                problems.append(f"--param signal_types: {problem.message}")
            case _:
                problems.append(str(problem))
    return InvalidInputError(
        listed_problems(problems),
        hint="--param NAME=VALUE; `quantdesk backtest strategies` lists the shorthands",
    )


def request_from_data(data: object, where: Callable[[Sequence[str | int]], str]) -> BacktestRequest:
    """The request in a document; ``where(location)`` names the file and line of a field."""
    try:
        return BacktestRequest.model_validate(data)
    except ValidationError as error:
        problems = []
        for detail in error.errors():
            location = error_location(detail)
            field = ".".join(str(part) for part in location)
            value = _value(detail, shown)
            named = " ".join(part for part in (field, value) if part)
            message = _message(detail)
            problems.append(f"{where(location)}: {named}: {message}" if named else message)
        raise InvalidInputError(listed_problems(problems)) from None


def parameter_flag_error(
    error: StrategyParameterError, flag_name: Callable[[str], str] = str
) -> InvalidInputError:
    """A strategy parameter the runner refused, addressed to the ``--param`` that set it
    (``flag_name``: the shorthand's name of the parameter)."""
    if error.parameter is None:
        return InvalidInputError(error.message, hint=error.hint)
    return InvalidInputError(
        f"--param {flag_name(error.parameter)}={_plain(error.value)}: {error.problem}",
        hint=error.hint or "--param NAME=VALUE; `quantdesk backtest strategies` lists them",
    )


def parameter_file_error(
    error: StrategyParameterError, where: Callable[[Sequence[str | int]], str]
) -> InvalidInputError:
    """A strategy parameter the runner refused, at its line of the request file."""
    location: tuple[str | int, ...] = ("strategies", error.index)
    return InvalidInputError(f"{where(location)}: {error.message}", hint=error.hint)


def _flag_problem(detail: ErrorDetails) -> str:
    location = error_location(detail)
    message = _message(detail)
    flag = flag_of(location)
    if flag is None:
        field = ".".join(str(part) for part in location)
        return f"{field}: {message}" if field else message
    value = _value(detail, _plain)
    if flag.startswith("--param "):
        return f"{flag}={value}: {message}" if value else f"{flag}: {message}"
    return f"{flag} {value}: {message}" if value else f"{flag}: {message}"


def _value(detail: ErrorDetails, render: Callable[[object], str]) -> str:
    """The value as given, unless the message shows it already (or it is a whole mapping)."""
    value = detail.get("input")
    if not detail["loc"] or not isinstance(value, _SCALARS):
        return ""
    text = render(value)
    return "" if str(value) and str(value) in detail["msg"] else text


def _plain(value: object) -> str:
    text = str(value)
    return text if len(text) <= SHOWN_MAX_LENGTH else shown(text)


def _message(detail: ErrorDetails) -> str:
    message = detail["msg"]
    return message.removeprefix("Value error, ")


def listed_problems(problems: list[str]) -> str:
    """One message for several problems: each on its own line, the first few of them."""
    unique = list(dict.fromkeys(problems))  # one flag fills every venue: one error, not N
    if len(unique) == 1:
        return unique[0]
    listed = "\n  ".join(unique[:ERRORS_SHOWN])
    more = len(unique) - ERRORS_SHOWN
    tail = f"\n  ... and {more} more" if more > 0 else ""
    return f"{len(unique)} problems:\n  {listed}{tail}"
