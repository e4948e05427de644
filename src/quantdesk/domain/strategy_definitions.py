"""Strategy definitions: the registry's unit, one typed parameter model per family.

A definition says what to trade and how (family, instruments, bar spec, parameters, signal
subscriptions, risk constraints). Its ``content_hash`` covers exactly that content, so two
definitions that would trade the same way have the same hash whoever wrote them, when, or why:
``version``, ``author``, ``created_at`` and ``reason`` are bookkeeping and stay out of it. That
is what makes re-registering an unchanged definition a no-op.

Every parameter has a type, bounds and a description; ``parameter_schema(family)`` is their
JSON schema, which drives the CLI's ``strategy schema`` (and later the UI's forms).
"""

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SerializeAsAny,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.instruments import validate_instrument_id
from quantdesk.domain.market_data import BarSpec
from quantdesk.domain.numbers import Quantity
from quantdesk.domain.risk import RiskConstraints
from quantdesk.domain.signals import SignalType
from quantdesk.domain.text import (
    ACTOR_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    NAME_MAX_LENGTH,
    REASON_MAX_LENGTH,
    free_text,
    is_whole_match,
    shown,
    single_line,
)

# Matched whole (``is_whole_match``): with ``re.match`` a ``$`` passes a trailing newline.
_STRATEGY_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_IMPORT_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*", re.ASCII)
_TAG = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")
_VERSION = re.compile(r"[0-9]{1,10}")
VERSION_MAX = 2**31 - 1
"""The version column is a 32-bit integer on both databases."""
_IMPORT_PATH_MAX_LENGTH = 300

InstrumentId = Annotated[str, AfterValidator(validate_instrument_id)]
INSTRUMENTS_MAX = 1000
"""Instruments one definition trades (a rotation's universe included)."""

# Bookkeeping: not part of what a definition *is*, so not part of its content hash.
BOOKKEEPING_FIELDS = frozenset({"version", "author", "created_at", "reason"})


class StrategyFamily(StrEnum):
    TREND_FOLLOWING = "trend_following"
    MEAN_REVERSION = "mean_reversion"
    MOMENTUM_ROTATION = "momentum_rotation"
    VOLATILITY_BREAKOUT = "volatility_breakout"
    STATISTICAL_ARBITRAGE = "statistical_arbitrage"
    REGIME_SWITCHING = "regime_switching"
    SENTIMENT_REACTION = "sentiment_reaction"
    EXECUTION = "execution"
    CUSTOM = "custom"


class StrategyParameters(BaseModel):
    """Base of every family's parameters: frozen, no unknown keys, no NaN or infinity."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


_TradeSize = Field(description="order quantity per entry (instrument units)")


class TrendFollowingParameters(StrategyParameters):
    """Go with the trend: a fast moving average crossing a slow one."""

    fast_period: int = Field(default=10, ge=2, le=500, description="fast moving average (bars)")
    slow_period: int = Field(default=50, ge=3, le=2000, description="slow moving average (bars)")
    ma_type: Literal["ema", "sma", "wma", "hull"] = Field(
        default="ema", description="kind of moving average"
    )
    trade_size: Quantity = _TradeSize
    atr_stop_multiple: float | None = Field(
        default=None, ge=0.5, le=10, description="trailing stop in ATRs; none for no stop"
    )
    long_only: bool = Field(default=False, description="never go short")

    @model_validator(mode="after")
    def _fast_below_slow(self) -> Self:
        if self.fast_period >= self.slow_period:
            raise ValueError(
                f"fast_period ({self.fast_period}) must be below slow_period ({self.slow_period})"
            )
        return self


class MeanReversionParameters(StrategyParameters):
    """Fade stretches: enter when price is far from its mean in z-score, exit near it."""

    lookback: int = Field(default=20, ge=5, le=1000, description="bars for mean and deviation")
    entry_zscore: float = Field(default=2.0, ge=0.5, le=5, description="|z| that opens")
    exit_zscore: float = Field(default=0.5, ge=0, le=3, description="|z| that closes")
    stop_zscore: float | None = Field(
        default=None, ge=1, le=10, description="|z| that stops out; none for no stop"
    )
    trade_size: Quantity = _TradeSize

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> Self:
        if self.exit_zscore >= self.entry_zscore:
            raise ValueError("exit_zscore must be below entry_zscore")
        if self.stop_zscore is not None and self.stop_zscore <= self.entry_zscore:
            raise ValueError("stop_zscore must be above entry_zscore")
        return self


class MomentumRotationParameters(StrategyParameters):
    """Hold the strongest instruments of a universe, re-ranked every few bars."""

    lookback: int = Field(default=1440, ge=10, le=100_000, description="bars of return ranked")
    rebalance_every: int = Field(default=60, ge=1, le=100_000, description="bars between ranks")
    top_n: int = Field(default=1, ge=1, le=50, description="how many instruments to hold")
    trade_size: Quantity = _TradeSize
    long_only: bool = Field(default=True, description="hold leaders only; no short laggards")


class VolatilityBreakoutParameters(StrategyParameters):
    """Enter when price leaves its recent channel by more than a multiple of the ATR."""

    channel_period: int = Field(default=20, ge=5, le=1000, description="Donchian channel (bars)")
    atr_period: int = Field(default=14, ge=2, le=500, description="average true range (bars)")
    breakout_atr_multiple: float = Field(
        default=0.5, ge=0, le=10, description="ATRs beyond the channel that confirm a breakout"
    )
    stop_atr_multiple: float = Field(default=2.0, gt=0, le=20, description="stop in ATRs")
    trade_size: Quantity = _TradeSize


class StatisticalArbitrageParameters(StrategyParameters):
    """Trade the spread of a pair (the definition's two instruments) back to its mean."""

    lookback: int = Field(default=240, ge=20, le=100_000, description="bars for spread stats")
    entry_zscore: float = Field(default=2.0, ge=0.5, le=5, description="|z| of spread that opens")
    exit_zscore: float = Field(default=0.5, ge=0, le=3, description="|z| that closes")
    hedge_ratio: Literal["ols", "fixed"] = Field(
        default="ols", description="rolling OLS estimate or a fixed ratio"
    )
    fixed_hedge_ratio: float | None = Field(
        default=None, gt=0, le=1000, description="units of leg 2 per unit of leg 1 (fixed only)"
    )
    trade_size: Quantity = _TradeSize

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.exit_zscore >= self.entry_zscore:
            raise ValueError("exit_zscore must be below entry_zscore")
        if (self.hedge_ratio == "fixed") != (self.fixed_hedge_ratio is not None):
            raise ValueError("fixed_hedge_ratio is required with hedge_ratio 'fixed' and only then")
        return self


class RegimeSwitchingParameters(StrategyParameters):
    """Follow trends in trending regimes, fade stretches in ranging ones, stand aside else."""

    regime_source: Literal["signal", "volatility"] = Field(
        default="signal", description="REGIME_PREDICTION signals or a realised-volatility rule"
    )
    min_confidence: float = Field(
        default=0.6, ge=0, le=1, description="ignore regime signals below this confidence"
    )
    trend_fast_period: int = Field(default=10, ge=2, le=500, description="trend regime: fast MA")
    trend_slow_period: int = Field(default=50, ge=3, le=2000, description="trend regime: slow MA")
    reversion_lookback: int = Field(default=20, ge=5, le=1000, description="range regime: bars")
    reversion_entry_zscore: float = Field(default=2.0, ge=0.5, le=5, description="range: |z|")
    volatility_lookback: int = Field(
        default=60, ge=10, le=10_000, description="bars of realised volatility (volatility only)"
    )
    trade_size: Quantity = _TradeSize

    @model_validator(mode="after")
    def _fast_below_slow(self) -> Self:
        if self.trend_fast_period >= self.trend_slow_period:
            raise ValueError("trend_fast_period must be below trend_slow_period")
        return self


class SentimentReactionParameters(StrategyParameters):
    """Trade on SENTIMENT signals strong and confident enough, hold for a while."""

    entry_threshold: float = Field(default=0.5, gt=0, le=1, description="|score| that opens")
    exit_threshold: float = Field(default=0.1, ge=0, le=1, description="|score| that closes")
    min_confidence: float = Field(default=0.6, ge=0, le=1, description="ignore signals below")
    max_holding_bars: int = Field(default=60, ge=1, le=100_000, description="close after (bars)")
    trade_size: Quantity = _TradeSize

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> Self:
        if self.exit_threshold >= self.entry_threshold:
            raise ValueError("exit_threshold must be below entry_threshold")
        return self


class ExecutionParameters(StrategyParameters):
    """Work a parent order over time (TWAP, VWAP or percent of volume)."""

    algorithm: Literal["twap", "vwap", "pov"] = Field(description="how the order is sliced")
    side: Literal["buy", "sell"] = Field(description="side of the parent order")
    total_quantity: Quantity = Field(description="parent order quantity")
    horizon_minutes: int = Field(default=60, ge=1, le=7200, description="time to complete")
    slice_interval_seconds: int = Field(default=60, ge=1, le=3600, description="between slices")
    participation_rate: float | None = Field(
        default=None, gt=0, le=0.5, description="share of traded volume (pov only)"
    )
    limit_offset_bps: float | None = Field(
        default=None, ge=0, le=1000, description="limit price offset from mid; none: market"
    )

    @model_validator(mode="after")
    def _pov_needs_rate(self) -> Self:
        if (self.algorithm == "pov") != (self.participation_rate is not None):
            raise ValueError("participation_rate is required with algorithm 'pov' and only then")
        return self


class CustomParameters(StrategyParameters):
    """A user's own NautilusTrader Strategy, imported by path, with a free-form config.

    ``config`` must satisfy ``config_schema`` (a JSON schema); the registry checks it with a
    JSON-schema validator before storing the definition (domain code imports no validator).
    """

    strategy_path: str = Field(description="module.path:StrategyClass (importable)")
    config_path: str = Field(description="module.path:StrategyConfigClass (importable)")
    config: dict[str, JsonValue] = Field(
        default_factory=dict, description="the config's values, checked against config_schema"
    )
    config_schema: dict[str, JsonValue] = Field(
        default_factory=lambda: _any_object(),
        description="JSON schema (draft 2020-12) that config must satisfy",
    )

    @field_validator("strategy_path", "config_path")
    @classmethod
    def _importable(cls, value: str) -> str:
        if len(value) > _IMPORT_PATH_MAX_LENGTH or not is_whole_match(_IMPORT_PATH, value):
            raise ValueError(
                f"{shown(value)} is not an import path of the form package.module:Class"
            )
        return value


def _any_object() -> dict[str, JsonValue]:
    return {"type": "object"}


PARAMETER_MODELS: Mapping[StrategyFamily, type[StrategyParameters]] = {
    StrategyFamily.TREND_FOLLOWING: TrendFollowingParameters,
    StrategyFamily.MEAN_REVERSION: MeanReversionParameters,
    StrategyFamily.MOMENTUM_ROTATION: MomentumRotationParameters,
    StrategyFamily.VOLATILITY_BREAKOUT: VolatilityBreakoutParameters,
    StrategyFamily.STATISTICAL_ARBITRAGE: StatisticalArbitrageParameters,
    StrategyFamily.REGIME_SWITCHING: RegimeSwitchingParameters,
    StrategyFamily.SENTIMENT_REACTION: SentimentReactionParameters,
    StrategyFamily.EXECUTION: ExecutionParameters,
    StrategyFamily.CUSTOM: CustomParameters,
}

_FAMILIES = ", ".join(f.value for f in StrategyFamily)


def parameter_schema(family: StrategyFamily) -> dict[str, Any]:
    """The JSON schema of a family's parameters: types, bounds, defaults and descriptions."""
    return PARAMETER_MODELS[family].model_json_schema()


class StrategyDefinition(BaseModel):
    """One version of one strategy, as the registry stores it (DESIGN.md §3).

    Authored files leave out ``version``, ``author`` and ``created_at``: the registry sets them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    strategy_id: str = Field(description="slug: lowercase letters, digits, '-' and '_'")
    version: int | None = Field(default=None, ge=1, description="set by the registry: 1, 2, ...")
    family: StrategyFamily
    name: Annotated[str, AfterValidator(single_line)] = Field(
        min_length=1, max_length=NAME_MAX_LENGTH
    )
    description: Annotated[str, AfterValidator(free_text)] = Field(
        default="", max_length=DESCRIPTION_MAX_LENGTH
    )
    instruments: tuple[InstrumentId, ...] = Field(
        min_length=1, max_length=INSTRUMENTS_MAX, description="SYMBOL.VENUE ids"
    )
    bar_spec: str = Field(default="1-MINUTE-LAST", description="STEP-AGGREGATION-PRICE_TYPE")
    parameters: SerializeAsAny[StrategyParameters]
    signal_subscriptions: tuple[SignalType, ...] = Field(
        default=(), description="AI signal types the strategy receives"
    )
    risk: RiskConstraints = Field(default_factory=RiskConstraints)
    author: Annotated[str, AfterValidator(single_line)] | None = Field(
        default=None, max_length=ACTOR_MAX_LENGTH, description="set by the registry"
    )
    created_at: datetime | None = Field(default=None, description="set by the registry (UTC)")
    reason: Annotated[str, AfterValidator(free_text)] = Field(
        default="", max_length=REASON_MAX_LENGTH, description="why this version exists"
    )

    @field_validator("strategy_id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not is_whole_match(_STRATEGY_ID, value):
            raise ValueError(
                f"strategy id {shown(value)} is not a slug: 1-63 of a-z, 0-9, '-', '_', "
                "starting with a letter or digit (e.g. ema-cross-btc)"
            )
        return value

    @field_validator("family", mode="before")
    @classmethod
    def _known_family(cls, value: object) -> object:
        if isinstance(value, str) and value not in {f.value for f in StrategyFamily}:
            raise ValueError(f"{value!r} is not a strategy family; allowed: {_FAMILIES}")
        return value

    @field_validator("instruments")
    @classmethod
    def _instrument_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("an instrument is listed twice")
        return value

    @field_validator("bar_spec")
    @classmethod
    def _bar_spec(cls, value: str) -> str:
        return str(BarSpec.parse(value))

    @field_validator("parameters", mode="before")
    @classmethod
    def _family_parameters(cls, value: object, info: ValidationInfo) -> object:
        family = info.data.get("family")
        if family is None:  # the family itself failed; its error says so
            raise ValueError("cannot be checked without a valid family")
        model = PARAMETER_MODELS[family]
        if isinstance(value, StrategyParameters) and not isinstance(value, model):
            value = value.model_dump()
        return model.model_validate(value)

    @field_validator("signal_subscriptions")
    @classmethod
    def _sorted_subscriptions(cls, value: tuple[SignalType, ...]) -> tuple[SignalType, ...]:
        """A set in meaning; sorted so that order never changes the content hash."""
        if len(set(value)) != len(value):
            raise ValueError("a signal type is listed twice")
        return tuple(sorted(value))

    @field_validator("created_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("created_at needs a time zone (UTC)")
        return None if value is None else value.astimezone(UTC)

    @model_validator(mode="after")
    def _family_rules(self) -> Self:
        family, params, count = self.family, self.parameters, len(self.instruments)
        if family is StrategyFamily.STATISTICAL_ARBITRAGE and count != 2:
            raise ValueError(f"statistical_arbitrage trades a pair: 2 instruments, not {count}")
        if family is StrategyFamily.MOMENTUM_ROTATION:
            assert isinstance(params, MomentumRotationParameters)
            if count < 2 or params.top_n >= count:
                raise ValueError(
                    f"momentum_rotation ranks a universe: needs more instruments ({count}) "
                    f"than top_n ({params.top_n})"
                )
        needs = {
            StrategyFamily.SENTIMENT_REACTION: SignalType.SENTIMENT,
            StrategyFamily.REGIME_SWITCHING: SignalType.REGIME_PREDICTION,
        }.get(family)
        if needs is not None and needs not in self.signal_subscriptions:
            uses_signal = not isinstance(params, RegimeSwitchingParameters) or (
                params.regime_source == "signal"
            )
            if uses_signal:
                raise ValueError(f"{family.value} needs signal_subscriptions to include {needs}")
        return self

    def content(self) -> dict[str, Any]:
        """What the strategy is, in canonical form: no bookkeeping, decimals normalised."""
        dumped = self.model_dump(mode="python", exclude=set(BOOKKEEPING_FIELDS))
        canonical: dict[str, Any] = _canonical(dumped)
        return canonical

    @property
    def canonical_json(self) -> str:
        return canonical_json(self.content())

    @property
    def content_hash(self) -> str:
        """sha256 of the canonical JSON of the content (hex)."""
        return hashlib.sha256(self.canonical_json.encode()).hexdigest()

    @property
    def ref(self) -> str:
        return self.strategy_id if self.version is None else f"{self.strategy_id}@{self.version}"

    def document(self) -> dict[str, Any]:
        """Content plus bookkeeping, canonical: what the registry stores and returns."""
        bookkeeping = {
            "version": self.version,
            "author": self.author,
            "created_at": None if self.created_at is None else self.created_at.isoformat(),
            "reason": self.reason,
        }
        return {**self.content(), **bookkeeping}


def canonical_json(value: object) -> str:
    """Sorted keys, no spaces, UTF-8 kept: the same value always gives the same bytes."""
    return json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canonical(value: object) -> Any:
    if isinstance(value, BaseModel):
        return _canonical(value.model_dump(mode="python"))
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(_canonical(v) for v in value)
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return "0" if text in {"-0", "0"} else text
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def validate_tag(tag: str) -> str:
    if not is_whole_match(_TAG, tag):
        raise InvalidInputError(
            f"tag {shown(tag)} is not valid: 1-40 of a-z, 0-9, '.', '-', '_' (e.g. validated, live)"
        )
    return tag


# --- errors that name the field and what it allows ------------------------------------------


@dataclass(frozen=True)
class DefinitionProblem:
    """One thing wrong with a definition: where (field path) and what, with what is allowed."""

    location: tuple[str | int, ...]
    message: str

    @property
    def field(self) -> str:
        return ".".join(str(part) for part in self.location) or "definition"

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidDefinitionError(InvalidInputError):
    """A strategy definition breaks a rule; ``problems`` lists every rule it breaks."""

    def __init__(self, problems: Sequence[DefinitionProblem], *, source: str = "") -> None:
        self.problems = list(problems)
        prefix = f"{source}: " if source else ""
        first = self.problems[0]
        more = len(self.problems) - 1
        tail = f" (and {more} more problem{'s' * (more > 1)})" if more else ""
        super().__init__(
            f"{prefix}{first}{tail}",
            hint="see `quantdesk strategy schema FAMILY` and examples/strategies/",
        )


def parse_definition(data: object) -> StrategyDefinition:
    """A definition from authored data, or ``InvalidDefinitionError`` naming each field."""
    try:
        return StrategyDefinition.model_validate(data)
    except ValidationError as error:
        family = data.get("family") if isinstance(data, Mapping) else None
        raise InvalidDefinitionError(describe_problems(error, family)) from error


def describe_problems(error: ValidationError, family: object = None) -> list[DefinitionProblem]:
    problems = []
    for item in error.errors():
        location = tuple(item["loc"])
        if location == ("parameters",) and "valid family" in item["msg"]:
            continue  # reported under `family`
        message = str(item["msg"]).removeprefix("Value error, ")
        field = _field_info(location, family)
        if item["type"] == "extra_forbidden":
            known = _known_fields(location[:-1], family)
            message = f"unknown field; allowed: {', '.join(known)}"
        elif item["type"] == "missing":
            message = "required field is missing"
        elif field is not None:
            allowed = _allowed(field)
            if allowed and "allowed" not in message:
                message = f"{message!s}; got {shown(item.get('input'))}; allowed: {allowed}"
        problems.append(DefinitionProblem(location, message))
    return problems or [DefinitionProblem((), str(error))]


def _model_at(path: tuple[str | int, ...], family: object) -> type[BaseModel] | None:
    model: type[BaseModel] = StrategyDefinition
    for part in path:
        if model is StrategyDefinition and part == "parameters":
            try:
                model = PARAMETER_MODELS[StrategyFamily(str(family))]
            except ValueError:
                return None
            continue
        info = model.model_fields.get(str(part))
        annotation = None if info is None else info.annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _known_fields(path: tuple[str | int, ...], family: object) -> list[str]:
    model = _model_at(path, family)
    return [] if model is None else list(model.model_fields)


def _field_info(location: tuple[str | int, ...], family: object) -> FieldInfo | None:
    if not location:
        return None
    model = _model_at(location[:-1], family)
    return None if model is None else model.model_fields.get(str(location[-1]))


def _allowed(field: FieldInfo) -> str:
    """A field's bounds as a reader wants them: ``2 <= value <= 500``."""
    lower = upper = ""
    for meta in field.metadata:  # pydantic keeps bounds as annotated-types Ge/Gt/Le/Lt
        bounds = {name: getattr(meta, name, None) for name in ("ge", "gt", "le", "lt")}
        if bounds["ge"] is not None:
            lower = f"{bounds['ge']} <= "
        if bounds["gt"] is not None:
            lower = f"{bounds['gt']} < "
        if bounds["le"] is not None:
            upper = f" <= {bounds['le']}"
        if bounds["lt"] is not None:
            upper = f" < {bounds['lt']}"
    return f"{lower}value{upper}" if lower or upper else ""


def diff_definitions(old: StrategyDefinition, new: StrategyDefinition) -> list["FieldChange"]:
    """Field-level changes between two definitions' content, in field order (dotted paths)."""
    changes: list[FieldChange] = []
    _diff(old.content(), new.content(), (), changes)
    return changes


@dataclass(frozen=True)
class FieldChange:
    path: str
    old: JsonValue
    new: JsonValue
    kind: Literal["changed", "added", "removed"]


_ABSENT = object()


def _diff(old: object, new: object, path: tuple[str, ...], out: list[FieldChange]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            _diff(old.get(key, _ABSENT), new.get(key, _ABSENT), (*path, key), out)
        return
    if old == new:
        return
    where = ".".join(path)
    if old is _ABSENT:
        out.append(FieldChange(where, None, _as_json(new), "added"))
    elif new is _ABSENT:
        out.append(FieldChange(where, _as_json(old), None, "removed"))
    else:
        out.append(FieldChange(where, _as_json(old), _as_json(new), "changed"))


def _as_json(value: object) -> JsonValue:
    loaded: JsonValue = json.loads(canonical_json(value))
    return loaded


# --- what the registry keeps around each version ---------------------------------------------


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
    if not is_whole_match(_STRATEGY_ID, strategy_id) or (at and not selector):
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
    return in_range and is_whole_match(_STRATEGY_ID, strategy_id)


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
