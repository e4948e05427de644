"""Strategy specs as the engine sees them: ``ImportableStrategyConfig`` and the decoded config.

``decode`` builds the config object exactly as the engine does (``StrategyFactory.create``:
resolve the config class, encode the config dict to JSON, ``parse`` it), so whatever passes
here is what a run gets. ``spec_of`` goes back: the config object's own JSON (``json()``),
decimals in canonical form again and the engine's base settings left at their defaults
dropped, so ``spec_of(decode(spec))`` is ``spec`` for every translated family definition and
``translation.from_spec`` recovers the definition exactly either way.
"""

from decimal import Decimal
from typing import Any

import msgspec
from nautilus_trader.common.config import (
    NautilusConfig,
    msgspec_encoding_hook,
    resolve_config_path,
)
from nautilus_trader.config import ImportableStrategyConfig, StrategyConfig
from pydantic import ValidationError

from quantdesk.domain.backtest import StrategySpec
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.strategies.canonical import canonical_value

_KEPT_BASE_FIELDS = frozenset({"strategy_id", "order_id_tag"})


def _base_defaults() -> dict[str, Any]:
    """The engine's own strategy settings at their defaults, as JSON values."""
    defaults = msgspec.json.decode(StrategyConfig().json())
    return {k: v for k, v in defaults.items() if k not in _KEPT_BASE_FIELDS}


_BASE_DEFAULTS = _base_defaults()
_OMITTED_AT_DEFAULT: dict[str, Any] = {"market_data": "bars", "rolls": []}
"""Family config fields translation writes only away from their default (a definition on
bars translates as it did before they existed; ``rolls`` is the runner's, never a
definition's)."""


def to_importable(spec: StrategySpec) -> ImportableStrategyConfig:
    """The spec as the engine's importable config (what a ``BacktestRunConfig`` holds)."""
    return ImportableStrategyConfig(
        strategy_path=spec.strategy_path, config_path=spec.config_path, config=dict(spec.config)
    )


def decode(spec: StrategySpec) -> StrategyConfig:
    """The config object the engine builds from ``spec`` (imports the config class)."""
    importable = to_importable(spec)
    try:
        config_class = resolve_config_path(importable.config_path)
    except (ImportError, AttributeError, ValueError) as error:
        raise InvalidInputError(
            f"config class {spec.config_path!r} cannot be imported: {error}",
            hint="check the module path and that its package is installed",
        ) from None
    except TypeError:
        raise InvalidInputError(
            f"{spec.config_path!r} is not a NautilusTrader config class"
        ) from None
    if not issubclass(config_class, StrategyConfig):
        raise InvalidInputError(f"{spec.config_path!r} is not a strategy config class")
    raw = msgspec.json.encode(importable.config, enc_hook=msgspec_encoding_hook)
    try:
        config: StrategyConfig = config_class.parse(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise InvalidInputError(
            f"the config does not decode as {spec.config_path}: {error}",
            hint="every field must have the type its config class declares",
        ) from None
    return config


def config_values(config: NautilusConfig) -> dict[str, Any]:
    """The config object's JSON values, decimals in canonical form (``json()`` writes
    ``str(Decimal)``, which is ``1E-9`` for a billionth)."""
    values: dict[str, Any] = msgspec.json.decode(config.json())
    for name in values:
        value = getattr(config, name, None)
        if isinstance(value, Decimal):
            values[name] = canonical_value(value)
    return values


def spec_of(strategy_path: str, config_path: str, config: NautilusConfig) -> StrategySpec:
    """The spec of a decoded config (back from :func:`decode`)."""
    values = {
        key: value
        for key, value in config_values(config).items()
        if (key not in _BASE_DEFAULTS or _BASE_DEFAULTS[key] != value)
        and (key not in _OMITTED_AT_DEFAULT or _OMITTED_AT_DEFAULT[key] != value)
    }
    try:
        return StrategySpec(strategy_path=strategy_path, config_path=config_path, config=values)
    except ValidationError as error:
        raise InvalidInputError(
            f"the config is not a strategy spec: {error.errors()[0]['msg']}"
        ) from None
