"""Hypothesis strategies for registered ``StrategyDefinition``s of every family.

Parameters are drawn from each family model's own bounds (read off the pydantic fields, so a
bound changed in the model changes what is generated), with the bounds themselves drawn often,
and then made to respect the model's cross-field rules (fast < slow, exit < entry, a fixed
hedge ratio only with ``hedge_ratio`` fixed, ...). Everything else a definition holds
(instruments, bar spec, subscriptions, risk, bookkeeping) is drawn too, so a round trip test
sees all of it travel.
"""

import types
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from hypothesis import strategies as st
from pydantic.fields import FieldInfo

from quantdesk.domain.numbers import QUANTITY_MAX
from quantdesk.domain.signals import SignalType
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.families import PARAMETER_MODELS, StrategyFamily

QUANTITY_MIN = Decimal("0.000000001")

FAMILIES = tuple(f for f in StrategyFamily if f is not StrategyFamily.CUSTOM)
"""The eight registry families (custom has no family module)."""

slugs = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)
instrument_ids = st.from_regex(r"[A-Z][A-Z0-9]{0,5}\.[A-Z]{2,5}", fullmatch=True)
names = (
    st.text(
        st.characters(whitelist_categories=("L", "N"), whitelist_characters="-_ ()é€"),
        min_size=1,
        max_size=30,
    )
    .map(str.strip)
    .filter(bool)
)
texts = st.text(st.characters(whitelist_categories=("L", "N", "P", "Zs")), max_size=40)
bar_specs = st.sampled_from(["1-MINUTE-LAST", "5-MINUTE-LAST", "1-HOUR-MID", "15-SECOND-BID"])
quantities = st.one_of(
    st.sampled_from([QUANTITY_MIN, Decimal(1), Decimal("100"), QUANTITY_MAX]),
    st.decimals(min_value=QUANTITY_MIN, max_value=QUANTITY_MAX, places=9),
    st.decimals(min_value=QUANTITY_MIN, max_value=Decimal(1000), places=3),
)
timestamps = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


def _bounds(info: FieldInfo) -> tuple[Any, Any, bool, bool]:
    low = high = None
    low_open = high_open = False
    for meta in info.metadata:
        if isinstance(meta, annotated_types.Ge):
            low = meta.ge
        elif isinstance(meta, annotated_types.Gt):
            low, low_open = meta.gt, True
        elif isinstance(meta, annotated_types.Le):
            high = meta.le
        elif isinstance(meta, annotated_types.Lt):
            high, high_open = meta.lt, True
    return low, high, low_open, high_open


def _value(annotation: Any, info: FieldInfo) -> st.SearchStrategy[Any]:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return st.one_of(st.none(), _value(inner[0], info))
    if origin is Literal:
        return st.sampled_from(get_args(annotation))
    if annotation is bool:
        return st.booleans()
    if annotation is Decimal:
        return quantities
    low, high, low_open, high_open = _bounds(info)
    if annotation is int:
        low_i = int(low) + (1 if low_open else 0)
        high_i = int(high) - (1 if high_open else 0)
        return st.one_of(st.sampled_from([low_i, high_i]), st.integers(low_i, high_i))
    if annotation is float:
        edges = [float(low)] if not low_open else []
        edges += [float(high)] if not high_open else []
        inside = st.floats(
            float(low), float(high), exclude_min=low_open, exclude_max=high_open, allow_nan=False
        )
        return st.one_of(st.sampled_from(edges), inside) if edges else inside
    raise TypeError(f"no strategy for parameter type {annotation!r}")


def _raw_parameters(family: StrategyFamily) -> st.SearchStrategy[dict[str, Any]]:
    model = PARAMETER_MODELS[family]
    fields = {}
    for name, info in model.model_fields.items():
        value = _value(info.annotation, info)
        fields[name] = value if info.is_required() else st.one_of(st.just(_MISSING), value)
    return st.fixed_dictionaries(fields).map(
        lambda drawn: {k: v for k, v in drawn.items() if v is not _MISSING}
    )


_MISSING = object()


def _ordered(params: dict[str, Any], low: str, high: str, defaults: tuple[Any, Any]) -> None:
    """Make ``params[low] < params[high]`` (swap or step apart) where the model requires it."""
    a, b = params.get(low, defaults[0]), params.get(high, defaults[1])
    if a < b:
        return
    a, b = b, a
    if a == b:
        a = a - 1 if isinstance(a, int) else a / 2
    params[low], params[high] = a, b


@st.composite
def parameters(draw: st.DrawFn, family: StrategyFamily) -> dict[str, Any]:
    """Raw parameters (what a definition file holds) valid for ``family``'s model."""
    params = draw(_raw_parameters(family))
    if family is StrategyFamily.TREND_FOLLOWING:
        _ordered(params, "fast_period", "slow_period", (10, 50))
    elif family is StrategyFamily.REGIME_SWITCHING:
        _ordered(params, "trend_fast_period", "trend_slow_period", (10, 50))
    elif family in (StrategyFamily.MEAN_REVERSION, StrategyFamily.STATISTICAL_ARBITRAGE):
        entry = params.get("entry_zscore", 2.0)
        if params.get("exit_zscore", 0.5) >= entry:
            params["exit_zscore"] = draw(st.floats(0, min(entry, 3.0), exclude_max=entry <= 3))
        stop = params.get("stop_zscore")
        if stop is not None and stop <= entry:
            params["stop_zscore"] = draw(st.floats(entry, 10, exclude_min=True) | st.just(10.0))
        if family is StrategyFamily.STATISTICAL_ARBITRAGE:
            if params.get("hedge_ratio", "ols") == "fixed":
                if params.get("fixed_hedge_ratio") is None:
                    params["fixed_hedge_ratio"] = draw(st.floats(0, 1000, exclude_min=True))
            else:
                params["fixed_hedge_ratio"] = None
    elif family is StrategyFamily.SENTIMENT_REACTION:
        entry = params.get("entry_threshold", 0.5)
        if params.get("exit_threshold", 0.1) >= entry:
            params["exit_threshold"] = draw(st.floats(0, entry, exclude_max=True))
    elif family is StrategyFamily.EXECUTION:
        if params["algorithm"] == "pov":
            if params.get("participation_rate") is None:
                params["participation_rate"] = draw(st.floats(0, 0.5, exclude_min=True))
        else:
            params["participation_rate"] = None
    return params


def _instrument_count(family: StrategyFamily, params: dict[str, Any]) -> st.SearchStrategy[int]:
    if family is StrategyFamily.STATISTICAL_ARBITRAGE:
        return st.just(2)
    if family is StrategyFamily.MOMENTUM_ROTATION:
        # the model needs more instruments than top_n, and long/short 2 * top_n (top_n
        # leaders and top_n laggards)
        top_n = params.get("top_n", 1)
        low = top_n + 1 if params.get("long_only", True) else max(top_n + 1, 2 * top_n)
        return st.integers(low, low + 2)
    return st.integers(1, 3)


def _needed_signals(family: StrategyFamily, params: dict[str, Any]) -> set[SignalType]:
    if family is StrategyFamily.SENTIMENT_REACTION:
        return {SignalType.SENTIMENT}
    if family is StrategyFamily.REGIME_SWITCHING and params.get("regime_source", "signal") == (
        "signal"
    ):
        return {SignalType.REGIME_PREDICTION}
    return set()


risks = st.fixed_dictionaries(
    {},
    optional={
        "max_position": quantities,
        "max_order_quantity": quantities,
        "max_order_notional": st.decimals(Decimal("0.01"), Decimal(10**15), places=2),
        "max_open_orders": st.integers(1, 1000),
        "max_drawdown_pct": st.decimals(Decimal("0.001"), Decimal(1), places=3),
        "long_only": st.booleans(),
        "allow_reduce": st.booleans(),
    },
)


@st.composite
def definitions(
    draw: st.DrawFn, family: StrategyFamily | None = None, *, registered: bool = True
) -> StrategyDefinition:
    """A valid definition of ``family`` (any of the eight when None), registered (version,
    author, time) unless told otherwise."""
    family = draw(st.sampled_from(FAMILIES)) if family is None else family
    if family is StrategyFamily.CUSTOM:
        params: dict[str, Any] = draw(custom_parameters())
        count = draw(st.integers(1, 3))
    else:
        params = draw(parameters(family))
        count = draw(_instrument_count(family, params))
    instruments = draw(st.lists(instrument_ids, min_size=count, max_size=count, unique=True))
    needed = _needed_signals(family, params)
    extra = draw(st.sets(st.sampled_from(list(SignalType))))
    data: dict[str, Any] = {
        "strategy_id": draw(slugs),
        "family": family.value,
        "name": draw(names),
        "description": draw(texts),
        "instruments": instruments,
        "bar_spec": draw(bar_specs),
        "parameters": params,
        "signal_subscriptions": sorted(needed | extra),
        "risk": draw(risks),
        "reason": draw(texts),
    }
    if registered:
        data["version"] = draw(st.integers(1, 2**31))
        data["author"] = draw(st.none() | names)
        data["created_at"] = draw(st.none() | timestamps)
    return StrategyDefinition.model_validate(data)


json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10)
json_values = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def custom_parameters(draw: st.DrawFn) -> dict[str, Any]:
    module = draw(st.from_regex(r"[a-z][a-z0-9_]{0,8}(\.[a-z][a-z0-9_]{0,8}){0,2}", fullmatch=True))
    return {
        "strategy_path": f"{module}:Strategy{draw(st.integers(0, 9))}",
        "config_path": f"{module}:Config{draw(st.integers(0, 9))}",
        "config": draw(st.dictionaries(st.text(max_size=8), json_values, max_size=4)),
    }
