"""A strategy of a request, built once before the run so the engine never refuses it mid-run.

The engine decodes a strategy's config only when it builds the node, ignores unknown keys,
and checks an order's quantity only when the strategy first makes one: ``trade_size`` 0 is
a ``ValueError`` at the first order, 0.5 on a whole-unit instrument "rounded to zero", 1e20
above ``QUANTITY_MAX``, each a traceback in the middle of a run. Here every one of them is an
error naming the strategy, the parameter and the value, before anything runs.

Quantities are a strategy's declared ``quantity_parameters`` (see ``QuantdeskStrategy``) and,
for any strategy, decimal parameters whose name says size or quantity; prices likewise.
A family config (``instrument_ids`` and ``bar_spec``) is checked for each of its instruments;
``registry`` is a reserved key every translated config may carry (the definition's remaining
fields, for the way back), whatever its class declares.
"""

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
from nautilus_trader.common.config import resolve_config_path, resolve_path
from nautilus_trader.config import StrategyConfig
from nautilus_trader.model.objects import PRICE_MAX as ENGINE_PRICE_MAX
from nautilus_trader.model.objects import QUANTITY_MAX as ENGINE_QUANTITY_MAX

from quantdesk.domain.backtest import StrategySpec
from quantdesk.domain.backtest_checks import ParameterValueError, StrategyParameterError
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.market_feeds import MarketData, bar_source
from quantdesk.domain.numbers import PRICE, QUANTITY, DecimalRange

_QUANTITY = DecimalRange(
    QUANTITY.low, min(QUANTITY.high, Decimal(str(ENGINE_QUANTITY_MAX))), low_open=True
)
_PRICE = DecimalRange(PRICE.low, min(PRICE.high, Decimal(str(ENGINE_PRICE_MAX))), low_open=True)
_QUANTITY_NAME = re.compile(r"(.*_)?(size|qty|quantity)")
_PRICE_NAME = re.compile(r"(.*_)?(price|px)")
_MSGSPEC_FIELD = re.compile(r"at `\$\.([A-Za-z_][A-Za-z0-9_]*)`")
_ENGINE_FIELDS = frozenset(field.name for field in msgspec.structs.fields(StrategyConfig))
RESERVED_KEYS = frozenset({"registry"})


def check_strategy(
    index: int,
    spec: StrategySpec,
    streamed: set[str],
    instruments: dict[str, InstrumentSpec],
    name: str | None = None,
) -> list[tuple[str, int]]:
    """The strategy built as the engine will build it, its amounts fitting its instruments.

    A ``bar_type`` must be one the run streams, of the strategy's own instrument (otherwise
    it would trade one instrument on another's prices, or wait for bars that never come);
    a family's ``instrument_ids`` x ``bar_spec`` likewise. Returns each bar type with the
    number of its bars the strategy needs to warm up, if it says. ``name``: what errors
    call the strategy (its registry version; its import path by default).
    """
    name = name or spec.strategy_path  # a registry version by its id@version
    where = f"strategy {index + 1} ({name})"
    try:
        strategy_cls = resolve_path(spec.strategy_path)
        config_cls = resolve_config_path(spec.config_path)
    except (ImportError, AttributeError, ValueError) as error:
        raise InvalidInputError(f"{where}: cannot import: {error}") from error
    known = {field.name for field in msgspec.structs.fields(config_cls)}
    unknown = sorted(set(spec.config) - known - RESERVED_KEYS)
    if unknown:
        raise StrategyParameterError(
            index,
            name,
            unknown[0],
            spec.config[unknown[0]],
            f"unknown parameter(s) {', '.join(unknown)}",
            hint=f"known: {', '.join(sorted(known - _ENGINE_FIELDS))}",
        )
    try:
        config = config_cls.parse(json.dumps(spec.config))
    except Exception as error:  # msgspec's, or whatever a plug-in's config raises
        raise _parameter_error(index, name, spec, error) from error
    for instrument in _instruments_of(config, instruments):
        check_amounts(index, name, spec, strategy_cls, config, instrument)
    try:  # a strategy may reject combinations its fields allow (fast >= slow, say)
        strategy = strategy_cls(config)
    except Exception as error:  # the engine's own checks raise ValueError, TypeError, ...
        raise _parameter_error(index, name, spec, error) from error
    warmup = getattr(strategy, "warmup_bars", None)
    family = _family_bar_types(config)
    if family is not None:
        for bar_type_text in family:
            _check_streamed(where, bar_type_text, streamed)
        return [(b, int(warmup)) for b in family] if isinstance(warmup, int) else []
    bar_type = getattr(config, "bar_type", None)
    if bar_type is None:
        return []
    instrument_id = getattr(config, "instrument_id", None)
    if instrument_id is not None and bar_type.instrument_id != instrument_id:
        raise InvalidInputError(
            f"{where}: bar_type {bar_type} is not a bar series of its instrument {instrument_id}",
            hint=f"use {instrument_id}-<bar spec>-EXTERNAL",
        )
    _check_streamed(where, str(bar_type), streamed)
    return [(str(bar_type), int(warmup))] if isinstance(warmup, int) else []


def _check_streamed(where: str, bar_type: str, streamed: set[str]) -> None:
    if bar_type not in streamed:
        raise InvalidInputError(
            f"{where}: bar_type {bar_type} is not streamed by this run",
            hint=f"the run streams {', '.join(sorted(streamed))}",
        )


def _family_bar_types(config: Any) -> list[str] | None:
    """A family config's bar types (``instrument_ids`` x ``bar_spec``); None for others."""
    ids = getattr(config, "instrument_ids", None)
    bar_spec = getattr(config, "bar_spec", None)
    if not isinstance(ids, list | tuple) or not isinstance(bar_spec, str):
        return None
    source = bar_source(getattr(config, "market_data", MarketData.BARS))
    return [f"{i}-{bar_spec}-{source}" for i in ids]


def check_amounts(
    index: int,
    name: str,
    spec: StrategySpec,
    strategy_cls: Any,
    config: Any,
    instrument: InstrumentSpec | None,
) -> None:
    """Quantities positive, within the engine's maximum and multiples of the instrument's size
    increment (the engine would round 1.5 to 2 silently, 0.5 to an error); prices positive
    and within the engine's maximum."""
    declared_quantities: frozenset[str] = getattr(strategy_cls, "quantity_parameters", frozenset())
    declared_prices: frozenset[str] = getattr(strategy_cls, "price_parameters", frozenset())
    for field in msgspec.structs.fields(config):
        value = getattr(config, field.name)
        if value is None or isinstance(value, bool) or not isinstance(value, Decimal | int | float):
            continue
        is_quantity = field.name in declared_quantities or _QUANTITY_NAME.fullmatch(field.name)
        is_price = field.name in declared_prices or _PRICE_NAME.fullmatch(field.name)
        if not (is_quantity or is_price):
            continue
        given = spec.config.get(field.name, value)
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            continue
        bounds = _QUANTITY if is_quantity else _PRICE
        problem = bounds.problem(amount)
        if problem is not None:
            problem = f"{problem} (allowed: {bounds.text()})"
        if problem is None and is_quantity and instrument is not None:
            step = instrument.size_increment
            if amount % step:
                problem = (
                    f"is not a multiple of {instrument.instrument_id}'s size increment {step} "
                    "(the engine would round it)"
                )
        if problem is not None:
            raise StrategyParameterError(index, name, field.name, given, problem)


def _instruments_of(
    config: Any, instruments: dict[str, InstrumentSpec]
) -> list[InstrumentSpec | None]:
    """The instruments whose size increments the config's quantities must fit (None: unknown)."""
    ids = getattr(config, "instrument_ids", None)
    if isinstance(ids, list | tuple) and ids:
        return [instruments.get(str(i)) for i in ids]
    instrument_id = getattr(config, "instrument_id", None)
    return [None if instrument_id is None else instruments.get(str(instrument_id))]


def _parameter_error(
    index: int, name: str, spec: StrategySpec, error: Exception
) -> StrategyParameterError:
    """The engine's or the config's refusal, naming the parameter when the message does."""
    text = str(error)
    if isinstance(error, ParameterValueError):
        if error.parameter in spec.config:
            given = spec.config[error.parameter]
            return StrategyParameterError(index, name, error.parameter, given, text)
        return StrategyParameterError(index, name, None, None, f"{error.parameter} {text}")
    found = _MSGSPEC_FIELD.search(text)
    parameter = found[1] if found else None
    value = spec.config.get(parameter) if parameter else None
    problem = f"invalid parameter: {_MSGSPEC_FIELD.sub('', text).rstrip(' -')}" if found else text
    if parameter is not None and parameter not in spec.config:
        parameter = None  # a required field left out: the message says which
        problem = text
    return StrategyParameterError(index, name, parameter, value, problem or type(error).__name__)
