"""PLACEHOLDER (helper R, uncommitted): the contract of helper T's translation, just enough to
run backtests by reference until T's module lands. Replaced by T's file on merge."""

import json
from collections.abc import Mapping
from typing import Any

from quantdesk.domain.backtest import StrategySpec
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.families import CustomParameters, StrategyFamily
from quantdesk.services.ports.plugins import PluginClass

_MODULES = {
    StrategyFamily.TREND_FOLLOWING: "TrendFollowing",
    StrategyFamily.MEAN_REVERSION: "MeanReversion",
    StrategyFamily.VOLATILITY_BREAKOUT: "VolatilityBreakout",
    StrategyFamily.MOMENTUM_ROTATION: "MomentumRotation",
    StrategyFamily.STATISTICAL_ARBITRAGE: "StatisticalArbitrage",
    StrategyFamily.REGIME_SWITCHING: "RegimeSwitching",
    StrategyFamily.SENTIMENT_REACTION: "SentimentReaction",
    StrategyFamily.EXECUTION: "Execution",
}
FAMILY_CLASSES: Mapping[StrategyFamily, PluginClass] = {
    f: PluginClass(
        f"quantdesk.strategies.{f.value}:{c}", f"quantdesk.strategies.{f.value}:{c}Config"
    )
    for f, c in _MODULES.items()
}
RUN_OPTIONS = frozenset({"flat_at_stop", "trade_until_ns"})


def nautilus_strategy_id(definition: StrategyDefinition) -> str:
    spec = to_spec(definition)
    name = spec.config.get("strategy_id") or spec.strategy_path.rsplit(":", 1)[1]
    return f"{name}-{spec.config['order_id_tag']}"


def to_spec(
    definition: StrategyDefinition, *, flat_at_stop: bool = False, trade_until_ns: int | None = None
) -> StrategySpec:
    if definition.version is None:
        raise InvalidInputError(f"{definition.strategy_id} has no version")
    options: dict[str, Any] = {}
    if flat_at_stop:
        options["flat_at_stop"] = True
    if trade_until_ns is not None:
        options["trade_until_ns"] = trade_until_ns
    rest = definition.model_dump(
        mode="json",
        exclude={"parameters", "version", "author", "created_at", "reason", "strategy_id"},
    )
    ids = {
        "strategy_id": f"{definition.strategy_id}@{definition.version}",
        "order_id_tag": definition.content_hash[:8],
        "registry": json.dumps(rest, sort_keys=True, separators=(",", ":")),
    }
    parameters = definition.parameters
    if isinstance(parameters, CustomParameters):
        ids.pop("strategy_id")  # placeholder: a plug-in config's StrategyId cannot take it
        return StrategySpec(
            strategy_path=parameters.strategy_path,
            config_path=parameters.config_path,
            config={**parameters.config, **ids, **options},
        )
    cls = FAMILY_CLASSES[definition.family]
    return StrategySpec(
        strategy_path=cls.strategy_path,
        config_path=cls.config_path,
        config={
            **parameters.model_dump(mode="json"),
            "instrument_ids": list(definition.instruments),
            "bar_spec": definition.bar_spec,
            "signal_types": [t.value for t in definition.signal_subscriptions],
            **ids,
            **options,
        },
    )
