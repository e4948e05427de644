"""What makes a backtest request runnable as stated: every number bounded, every timestamp one
the engine can hold, no two strategies with one id, each trading an instrument the run streams.

Without these the engine refuses the request late and in its own words: a duplicate strategy
id is a ``RuntimeError`` at build, ``end_ns`` 2^63 a pandas overflow, a negative start a
``uint64`` conversion error, a seed of -1 the same draws as a seed of 1.

A refusal the model raises for the request as a whole can name the field it is about: its
context carries ``location`` (see :func:`error_location`), so a request file's error points
at the right line and a flag's error at the right flag.
"""

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, Field
from pydantic_core import ErrorDetails, PydanticCustomError

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.numbers import PRICE_MAX, DecimalRange
from quantdesk.domain.strategies.versions import parse_ref
from quantdesk.domain.text import shown
from quantdesk.domain.time import describe_ns, in_ts_range, ts_range_text

SEED_MAX = 2**63 - 1
"""Seeds are 0 .. 2^63-1: the engine seeds Python's ``random`` with ``abs(seed)``, so a
negative seed would repeat a positive one's draws under another fingerprint."""
CHUNK_SIZE_MAX = 10_000_000
PURGE_MINUTES_MAX = 1_000_000
"""About 1.9 years of simulated time; in nanoseconds far inside the engine's int64."""
STRATEGIES_MAX = 1_000
INSTRUMENTS_MAX = 1_000
VENUES_MAX = 100
PATH_MAX_LENGTH = 300
"""``package.module:Class`` of a strategy or its config."""
_HUGE_BITS = 128
_INT_BITS = 64

SPREAD = DecimalRange(Decimal(0), PRICE_MAX)


def _timestamp(value: int) -> int:
    if not in_ts_range(value):
        if value.bit_length() > _HUGE_BITS:
            text = f"a number of {value.bit_length()} bits"
        else:
            when = describe_ns(value)
            text = when if when.endswith(" ns since 1970") else f"{value} ({when})"
        raise PydanticCustomError(
            "timestamp_out_of_range",
            "{value} is outside the range the engine can hold: {allowed}",
            {"value": text, "allowed": ts_range_text()},
        )
    return value


def _spread(value: Decimal) -> Decimal:
    return SPREAD.check(value)


Timestamp = Annotated[int, AfterValidator(_timestamp)]
"""Nanoseconds since the epoch (UTC) within :data:`quantdesk.domain.time.TS_MAX_NS`."""
Spread = Annotated[
    Decimal, AfterValidator(_spread), Field(json_schema_extra={"minimum": 0, "maximum": 9e9})
]
"""A bid/ask spread in price units: zero or more, at most a price."""
Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]


def refusal(location: tuple[str | int, ...], code: str, message: str) -> PydanticCustomError:
    """A model-level error that names the field it is about (see :func:`error_location`)."""
    return PydanticCustomError(code, message, {"location": location})


def error_location(error: ErrorDetails) -> tuple[str | int, ...]:
    """Where an error is: the field a model-level check names (``location``), or pydantic's
    location and the part within it a field's check names (``within``)."""
    context = error.get("ctx", {})
    location = context.get("location")
    if isinstance(location, tuple):
        return location
    within = context.get("within")
    return tuple(error["loc"]) + (within if isinstance(within, tuple) else ())


def check_config_values(config: dict[str, Any]) -> dict[str, Any]:
    """A strategy config holds what the engine decodes: finite numbers, integers of at most
    64 bits (``inf`` would reach it as malformed JSON, a huge integer as a C overflow)."""
    for key, top in config.items():
        stack = [top]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                stack.extend(value.values())
            elif isinstance(value, list | tuple):
                stack.extend(value)
            elif isinstance(value, float) and not math.isfinite(value):
                raise _config_refusal(key, value, "is not a finite number")
            elif isinstance(value, int) and value.bit_length() > _INT_BITS:
                raise _config_refusal(key, value, f"does not fit in {_INT_BITS} bits")
    return config


def _config_refusal(key: str, value: object, problem: str) -> PydanticCustomError:
    text = str(value)
    if isinstance(value, int) and value.bit_length() > _HUGE_BITS:
        text = f"an integer of {value.bit_length()} bits"
    return PydanticCustomError(
        "strategy_parameter_out_of_range",
        "{value} {problem}",
        {"value": text, "problem": problem, "within": (key,)},
    )


def strategy_identity(strategy_path: str, config: Mapping[str, Any]) -> str:
    """The id the engine gives a strategy: ``{strategy_id or class name}-{order_id_tag}``."""
    name = config.get("strategy_id") or strategy_path.rsplit(":", 1)[-1]
    return f"{name}-{config.get('order_id_tag')}"


def check_strategies(
    strategies: Sequence[tuple[str, Mapping[str, Any]]], instruments: Sequence[str]
) -> None:
    """Each strategy's ``instrument_id`` among the run's instruments; no two share an id.

    ``strategies``: (strategy_path, config) per strategy, in the request's order.
    """
    seen: dict[str, int] = {}
    listed = set(instruments)
    for index, (path, config) in enumerate(strategies):
        instrument_id = config.get("instrument_id")
        if isinstance(instrument_id, str) and instrument_id not in listed:
            raise refusal(
                ("strategies", index, "config", "instrument_id"),
                "strategy_instrument_not_in_run",
                f"strategy {index + 1} trades {shown(instrument_id)}, which is not among the "
                f"run's instruments ({', '.join(instruments)})",
            )
        identity = strategy_identity(path, config)
        if identity in seen:
            raise refusal(
                ("strategies", index, "config", "order_id_tag"),
                "duplicate_strategy_id",
                f"strategies {seen[identity] + 1} and {index + 1} would both be {shown(identity)} "
                "(class name or strategy_id, then order_id_tag): give each its own order_id_tag",
            )
        seen[identity] = index


_OLD_REQUEST_FIELDS = ("instruments", "bar_spec")
_REFS_HINT = (
    "strategies are registry references now (ID, ID@VERSION or ID@TAG): register the "
    "strategy first (`quantdesk strategy add FILE`), then name it; import paths, instruments "
    "and bar specs are no longer accepted from requests, they come from each definition"
)


def check_request_shape(data: object) -> object:
    """Refuse an old-style request (``strategies`` as import paths and configs, request-level
    ``instruments``/``bar_spec``) with what to do instead, not pydantic's "extra field"."""
    if not isinstance(data, Mapping):
        return data
    for name in _OLD_REQUEST_FIELDS:
        if name in data:
            raise refusal(
                (name,),
                "request_field_removed",
                f"a request no longer names {name}: {_REFS_HINT}",
            )
    strategies = data.get("strategies")
    if isinstance(strategies, list | tuple):
        for index, item in enumerate(strategies):
            if not isinstance(item, str):
                raise refusal(
                    ("strategies", index),
                    "strategy_not_a_reference",
                    f"strategy {index + 1} is not a registry reference: {_REFS_HINT}",
                )
    return data


def check_strategy_refs(
    refs: Sequence[str],
    pinned: Sequence[tuple[str, int | None]],
    constraint_keys: Sequence[str],
) -> None:
    """References that parse, none twice, pinned definitions matching them one to one, and
    risk constraints only for strategies of the run (keyed by reference or strategy id)."""
    ids: list[str] = []
    for index, ref in enumerate(refs):
        try:
            strategy_id, _ = parse_ref(ref)
        except InvalidInputError as error:
            raise refusal(("strategies", index), "strategy_reference", str(error)) from None
        if ref in refs[:index]:
            raise refusal(
                ("strategies", index),
                "duplicate_strategy",
                f"strategy {shown(ref)} is listed twice: one run holds each version once",
            )
        ids.append(strategy_id)
    if pinned:
        exact = [f"{i}@{v}" for i, v in pinned]
        if exact != list(refs):
            raise refusal(
                ("pinned",),
                "pinned_mismatch",
                f"the pinned definitions ({', '.join(exact)}) are not the request's "
                f"strategies ({', '.join(refs)})",
            )
    for key in constraint_keys:
        if key not in refs and key not in ids:
            raise refusal(
                ("risk", "constraints", key),
                "constraints_for_unknown_strategy",
                f"risk constraints for {shown(key)}, which is not a strategy of this run "
                f"({', '.join(refs)})",
            )


class StrategyParameterError(InvalidInputError):
    """A strategy parameter the engine would refuse, with what an interface needs to point at
    it: the strategy's position, the parameter's name and the value as given (the CLI turns
    these into ``--param NAME=VALUE``)."""

    def __init__(
        self,
        index: int,
        strategy: str,
        parameter: str | None,
        value: object,
        problem: str,
        *,
        hint: str | None = None,
    ) -> None:
        self.index = index
        self.parameter = parameter
        self.value = value
        self.problem = problem
        what = "" if parameter is None else f"{parameter} {shown(value)}: "
        super().__init__(f"strategy {index + 1} ({strategy}): {what}{problem}", hint=hint)


class ParameterValueError(ValueError):
    """What a strategy raises when its config fails a check of its own (``fast >= slow``):
    a ``ValueError`` that names the parameter, so the refusal can point at it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
