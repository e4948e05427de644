"""Translation: a registry version <-> the engine's strategy spec (import paths and config).

A family definition becomes its family strategy's config spelled field by field (the
parameter model's names, decimals as canonical strings, None kept), plus the instruments, the
bar spec and the signal subscriptions as the config's own fields. What the config has no field
for (id, version, name, description, risk, bookkeeping) travels as ``registry``: canonical JSON
that the strategy never reads. The engine names the strategy ``{id}@{version}-{hash8}`` (its
``strategy_id`` and ``order_id_tag``), so every fill is attributed to the exact version.

``from_spec`` is the exact inverse and refuses anything that is not a translation: a wrong
class, a missing or mangled ``registry``, or an engine id that does not match the content.
"""

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from pydantic import ValidationError

from quantdesk.domain.backtest import StrategySpec
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.market_feeds import MarketData
from quantdesk.domain.strategies.canonical import canonical_json, canonical_value
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.families import (
    PARAMETER_MODELS,
    CustomParameters,
    StrategyFamily,
)
from quantdesk.services.ports.plugins import PluginClass


def _family_class(module: str, name: str) -> PluginClass:
    return PluginClass(
        f"quantdesk.strategies.{module}:{name}", f"quantdesk.strategies.{module}:{name}Config"
    )


FAMILY_CLASSES: Final[Mapping[StrategyFamily, PluginClass]] = {
    StrategyFamily.TREND_FOLLOWING: _family_class("trend_following", "TrendFollowing"),
    StrategyFamily.MEAN_REVERSION: _family_class("mean_reversion", "MeanReversion"),
    StrategyFamily.VOLATILITY_BREAKOUT: _family_class("volatility_breakout", "VolatilityBreakout"),
    StrategyFamily.MOMENTUM_ROTATION: _family_class("momentum_rotation", "MomentumRotation"),
    StrategyFamily.STATISTICAL_ARBITRAGE: _family_class(
        "statistical_arbitrage", "StatisticalArbitrage"
    ),
    StrategyFamily.REGIME_SWITCHING: _family_class("regime_switching", "RegimeSwitching"),
    StrategyFamily.SENTIMENT_REACTION: _family_class("sentiment_reaction", "SentimentReaction"),
    StrategyFamily.EXECUTION: _family_class("execution", "Execution"),
}
"""The family strategies by import path (strategy class, config class)."""

_FAMILY_OF_PATH: Final = {plugin.strategy_path: family for family, plugin in FAMILY_CLASSES.items()}

RUN_OPTIONS: Final = frozenset({"flat_at_stop", "trade_until_ns"})
"""Config keys a run sets for every strategy; not part of the definition."""

REGISTRY_KEY: Final = "registry"
ENGINE_KEYS: Final = frozenset({"strategy_id", "order_id_tag"})
RESERVED_KEYS: Final = ENGINE_KEYS | {REGISTRY_KEY} | RUN_OPTIONS
"""Keys translation writes into every config besides the definition's own values."""

FAMILY_DATA_KEYS: Final = frozenset({"instrument_ids", "bar_spec", "signal_types"})
"""A family config's fields that hold the definition's instruments, bar spec, subscriptions."""

MARKET_DATA_KEY: Final = "market_data"
"""A family config's market data, written only when not bars: a definition on bars translates
to the spec it always did (its run's fingerprint unchanged)."""

_RECORD_FIELDS: Final = ("strategy_id", "version", "name", "description", "risk")
_BOOKKEEPING: Final = ("author", "created_at", "reason")
_CUSTOM_FIELDS: Final = ("instruments", "bar_spec", "signal_subscriptions")
_CUSTOM_PARAMETERS: Final = ("strategy_path", "config_path", "config", "config_schema")


def engine_name(definition: StrategyDefinition) -> str:
    """``{id}@{version}``: the config's ``strategy_id``."""
    return f"{definition.strategy_id}@{_version(definition)}"


def nautilus_strategy_id(definition: StrategyDefinition) -> str:
    """The engine's id for the strategy: ``{id}@{version}-{content hash[:8]}``."""
    return f"{engine_name(definition)}-{definition.content_hash[:8]}"


def _version(definition: StrategyDefinition) -> int:
    if definition.version is None:
        raise InvalidInputError(
            f"strategy {definition.strategy_id!r} has no version: only a registered version "
            "can be translated",
            hint="register the definition first and refer to it as id@version",
        )
    return definition.version


def registry_record(definition: StrategyDefinition) -> dict[str, Any]:
    """What ``registry`` holds (before canonical JSON): every field the config has none for,
    the full content hash, and for ``custom`` whatever restores the definition's content."""
    dumped = definition.model_dump(mode="python")
    record: dict[str, Any] = {name: dumped[name] for name in (*_RECORD_FIELDS, *_BOOKKEEPING)}
    record["family"] = definition.family
    record["content_hash"] = definition.content_hash
    if definition.family is StrategyFamily.CUSTOM:
        record.update({name: dumped[name] for name in _CUSTOM_FIELDS})
        record["parameters"] = dumped["parameters"]
    result: dict[str, Any] = canonical_value(record)
    return result


def to_spec(
    definition: StrategyDefinition, *, flat_at_stop: bool = False, trade_until_ns: int | None = None
) -> StrategySpec:
    """The definition as the engine's strategy spec (see the module docstring)."""
    engine = {
        "strategy_id": engine_name(definition),
        "order_id_tag": definition.content_hash[:8],
        REGISTRY_KEY: canonical_json(registry_record(definition)),
    }
    params = definition.parameters
    if isinstance(params, CustomParameters):
        config: dict[str, Any] = {**canonical_value(params.config), **engine}
        if flat_at_stop:
            config["flat_at_stop"] = True
        if trade_until_ns is not None:
            config["trade_until_ns"] = trade_until_ns
        return _spec(params.strategy_path, params.config_path, config)
    plugin = FAMILY_CLASSES[definition.family]
    config = {
        **canonical_value(params.model_dump(mode="python")),
        "instrument_ids": list(definition.instruments),
        "bar_spec": definition.bar_spec,
        "signal_types": [t.value for t in definition.signal_subscriptions],
        **market_data_key(definition.market_data),
        **engine,
        "flat_at_stop": flat_at_stop,
        "trade_until_ns": trade_until_ns,
    }
    return _spec(plugin.strategy_path, plugin.config_path, config)


def market_data_key(market_data: MarketData) -> dict[str, str]:
    return {} if market_data is MarketData.BARS else {MARKET_DATA_KEY: market_data.value}


def _spec(strategy_path: str, config_path: str, config: dict[str, Any]) -> StrategySpec:
    try:
        return StrategySpec(strategy_path=strategy_path, config_path=config_path, config=config)
    except ValidationError as error:
        raise InvalidInputError(
            f"the definition does not translate to an engine config: {_first(error)}"
        ) from None


def from_spec(spec: StrategySpec) -> StrategyDefinition:
    """The definition ``spec`` was translated from, exactly (equal, same content hash)."""
    record = _record(spec.config)
    family = _family(spec, record)
    if family is StrategyFamily.CUSTOM:
        data = _custom_data(spec, record)
    else:
        data = _family_data(spec, family)
    data.update({name: record[name] for name in (*_RECORD_FIELDS, *_BOOKKEEPING)})
    data["family"] = family.value
    if data["created_at"] is not None:
        data["created_at"] = _timestamp(data["created_at"])
    try:
        definition = StrategyDefinition.model_validate(data)
    except ValidationError as error:
        raise _not_translation(
            f"its values do not make a valid definition: {_first(error)}"
        ) from None
    _check_identity(spec.config, record, definition)
    return definition


def _record(config: Mapping[str, Any]) -> dict[str, Any]:
    raw = config.get(REGISTRY_KEY)
    if not isinstance(raw, str) or not raw:
        raise _not_translation(f"its config has no {REGISTRY_KEY!r} record")
    try:
        record = json.loads(raw)
    except ValueError:
        raise _not_translation(f"its {REGISTRY_KEY!r} record is not JSON") from None
    if not isinstance(record, dict):
        raise _not_translation(f"its {REGISTRY_KEY!r} record is not a JSON object")
    expected = {*_RECORD_FIELDS, *_BOOKKEEPING, "family", "content_hash"}
    if record.get("family") == StrategyFamily.CUSTOM.value:
        expected |= {*_CUSTOM_FIELDS, "parameters"}
    if set(record) != expected:
        missing, extra = sorted(expected - set(record)), sorted(set(record) - expected)
        raise _not_translation(
            f"its {REGISTRY_KEY!r} record has missing fields {missing} / unknown fields {extra}"
        )
    if canonical_json(record) != raw:
        raise _not_translation(f"its {REGISTRY_KEY!r} record is not in canonical form")
    return record


def _family(spec: StrategySpec, record: Mapping[str, Any]) -> StrategyFamily:
    named = record["family"]
    if named == StrategyFamily.CUSTOM.value:
        return StrategyFamily.CUSTOM
    family = _FAMILY_OF_PATH.get(spec.strategy_path)
    if family is None:
        raise _not_translation(
            f"strategy path {spec.strategy_path!r} is not a family strategy's "
            f"(and the record names family {named!r})"
        )
    if family.value != named:
        raise _not_translation(
            f"strategy path {spec.strategy_path!r} is family {family.value}, "
            f"its record says {named!r}"
        )
    if spec.config_path != FAMILY_CLASSES[family].config_path:
        raise _not_translation(
            f"config path {spec.config_path!r} is not {family.value}'s "
            f"({FAMILY_CLASSES[family].config_path})"
        )
    return family


def _family_data(spec: StrategySpec, family: StrategyFamily) -> dict[str, Any]:
    config = spec.config
    fields = set(PARAMETER_MODELS[family].model_fields)
    allowed = fields | FAMILY_DATA_KEYS | RESERVED_KEYS | {MARKET_DATA_KEY}
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise _not_translation(f"its config has keys {family.value} does not know: {unknown}")
    missing = sorted((fields | FAMILY_DATA_KEYS) - set(config))
    if missing:
        raise _not_translation(f"its config lacks {missing}")
    return {
        "parameters": {name: config[name] for name in fields},
        "instruments": config["instrument_ids"],
        "bar_spec": config["bar_spec"],
        "signal_subscriptions": config["signal_types"],
        "market_data": config.get(MARKET_DATA_KEY, MarketData.BARS.value),
    }


def _custom_data(spec: StrategySpec, record: Mapping[str, Any]) -> dict[str, Any]:
    params = record["parameters"]
    if not isinstance(params, dict) or set(params) != set(_CUSTOM_PARAMETERS):
        raise _not_translation(f"its record's custom parameters must hold {_CUSTOM_PARAMETERS}")
    paths = (params["strategy_path"], params["config_path"])
    if paths != (spec.strategy_path, spec.config_path):
        raise _not_translation(
            f"its paths {spec.strategy_path!r} / {spec.config_path!r} are not the record's "
            f"{paths[0]!r} / {paths[1]!r}"
        )
    own = params["config"]
    if not isinstance(own, dict):
        raise _not_translation("its record's custom config is not an object")
    for key, value in own.items():
        if key in RESERVED_KEYS:
            continue
        if key not in spec.config or canonical_value(spec.config[key]) != value:
            raise _not_translation(f"its config's {key!r} is not the record's")
    return {**{name: record[name] for name in _CUSTOM_FIELDS}, "parameters": params}


def _check_identity(
    config: Mapping[str, Any], record: Mapping[str, Any], definition: StrategyDefinition
) -> None:
    expected = {
        "strategy_id": engine_name(definition),
        "order_id_tag": definition.content_hash[:8],
    }
    for key, value in expected.items():
        if config.get(key) != value:
            raise _not_translation(
                f"its {key} {config.get(key)!r} does not match the definition ({value!r})"
            )
    if record["content_hash"] != definition.content_hash:
        raise _not_translation(
            "its record's content hash does not match its content "
            f"({record['content_hash']!r} vs {definition.content_hash!r})"
        )


def _timestamp(value: object) -> datetime:
    if not isinstance(value, str):
        raise _not_translation("its record's created_at is not a timestamp")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise _not_translation(f"its record's created_at {value!r} is not a timestamp") from None


def _first(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])


def _not_translation(problem: str) -> InvalidInputError:
    return InvalidInputError(
        f"not a translation of a registry version: {problem}",
        hint="translate the registry version again instead of editing its engine config",
    )
