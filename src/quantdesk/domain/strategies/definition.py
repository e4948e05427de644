"""Strategy definitions: the registry's unit, one typed parameter model per family.

A definition says what to trade and how (family, instruments, bar spec, the market data it
runs on, parameters, signal subscriptions, risk constraints). Its ``content_hash`` covers
exactly that content, so two definitions that would trade the same way have the same hash
whoever wrote them, when, or why: ``version``, ``author``, ``created_at`` and ``reason`` are
bookkeeping and stay out of it. That is what makes re-registering an unchanged definition a
no-op.

Every parameter has a type, bounds and a description; ``parameter_schema(family)`` is their
JSON schema, which drives the CLI's ``strategy schema`` (and later the UI's forms).
"""

import hashlib
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationInfo,
    field_validator,
    model_validator,
)

from quantdesk.domain.instruments import validate_instrument_id
from quantdesk.domain.market_data import BarSpec
from quantdesk.domain.market_feeds import BOOK_FAMILIES, MarketData, check_bar_spec
from quantdesk.domain.risk import RiskConstraints
from quantdesk.domain.signals import SignalType
from quantdesk.domain.strategies.canonical import canonical_json, canonical_value
from quantdesk.domain.strategies.families import (
    FAMILY_NAMES,
    PARAMETER_MODELS,
    MomentumRotationParameters,
    RegimeSwitchingParameters,
    StrategyFamily,
    StrategyParameters,
)
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
STRATEGY_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


InstrumentId = Annotated[str, AfterValidator(validate_instrument_id)]


INSTRUMENTS_MAX = 1000


"""Instruments one definition trades (a rotation's universe included)."""


# Bookkeeping: not part of what a definition *is*, so not part of its content hash.
BOOKKEEPING_FIELDS = frozenset({"version", "author", "created_at", "reason"})

# Fields added after definitions were first hashed: left out of the content while at their
# default, so every definition written before them keeps its content hash.
OMITTED_AT_DEFAULT = {"market_data": MarketData.BARS}


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
    market_data: MarketData = Field(
        default=MarketData.BARS,
        description="what a backtest streams: bars, or trades / quotes / book from which the "
        "engine builds the strategy's bars (fills against the ticks or the book)",
    )
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
        if not is_whole_match(STRATEGY_ID_PATTERN, value):
            raise ValueError(
                f"strategy id {shown(value)} is not a slug: 1-63 of a-z, 0-9, '-', '_', "
                "starting with a letter or digit (e.g. ema-cross-btc)"
            )
        return value

    @field_validator("family", mode="before")
    @classmethod
    def _known_family(cls, value: object) -> object:
        if isinstance(value, str) and value not in {f.value for f in StrategyFamily}:
            raise ValueError(f"{value!r} is not a strategy family; allowed: {FAMILY_NAMES}")
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
            if not params.long_only and 2 * params.top_n > count:
                raise ValueError(
                    f"a long/short momentum_rotation holds top_n leaders and top_n laggards: "
                    f"top_n ({params.top_n}) must be at most half the instruments ({count})"
                )
        self._market_data_rules()
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

    def _market_data_rules(self) -> None:
        market_data = self.market_data
        if market_data is MarketData.BARS:
            return
        if self.family is StrategyFamily.CUSTOM:
            raise ValueError(
                f"market_data {market_data.value} is for family strategies (their bars are "
                "built from the ticks): a custom strategy subscribes to what it reads itself"
            )
        if market_data is MarketData.BOOK and self.family.value not in BOOK_FAMILIES:
            raise ValueError(
                f"market_data book runs the {', '.join(sorted(BOOK_FAMILIES))} family only, "
                f"not {self.family.value}: run it on trades or quotes"
            )
        check_bar_spec(market_data, BarSpec.parse(self.bar_spec))

    def content(self) -> dict[str, Any]:
        """What the strategy is, in canonical form: no bookkeeping, decimals normalised,
        late fields at their default left out (``OMITTED_AT_DEFAULT``)."""
        dumped = self.model_dump(mode="python", exclude=set(BOOKKEEPING_FIELDS))
        for name, default in OMITTED_AT_DEFAULT.items():
            if dumped[name] == default:
                del dumped[name]
        canonical: dict[str, Any] = canonical_value(dumped)
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
