"""Risk limits and the pure check every order passes before it reaches an engine.

The gate answers three ways: approve, reduce (to the largest quantity that keeps every limit,
when the limits allow reducing) or deny, and it always says which rules bound and with what
numbers. Orders that only shrink the strategy's position are never blocked by exposure, loss
or drawdown rules: a desk must always be able to get out; only a HALTED state stops them. A
position or exposure limit already exceeded (prices moved, limits tightened, another strategy
traded) lets orders through that bring the value back toward it without crossing zero; no
approved or reduced order makes a limit breached that was not, or a breach worse. A loss or
drawdown equal to its limit is a breach: these are stop levels, and an order adding risk at
the level could only take the loss past it.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from quantdesk.domain.instruments import AssetClass, validate_instrument_id
from quantdesk.domain.numbers import Fraction, Leverage, LimitAmount, Quantity
from quantdesk.domain.risk_values import AssetClassLimits, class_scope
from quantdesk.domain.text import (
    LABEL_MAX_LENGTH,
    REASON_MAX_LENGTH,
    free_text,
    shown,
    single_line,
)
from quantdesk.domain.time import TS_MAX_NS, TS_MIN_NS

InstrumentId = Annotated[str, AfterValidator(validate_instrument_id)]
MAX_OPEN_ORDERS_LIMIT = 1_000_000
ALLOWED_INSTRUMENTS_MAX = 10_000


class TradingState(StrEnum):
    """NautilusTrader's trading states, as the risk layer sets them."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class RiskRule(StrEnum):
    TRADING_HALTED = "trading_halted"
    TRADING_REDUCING = "trading_reducing"
    INSTRUMENT_NOT_ALLOWED = "instrument_not_allowed"
    LONG_ONLY = "long_only"
    MAX_OPEN_ORDERS = "max_open_orders"
    MAX_DAILY_LOSS = "max_daily_loss"
    MAX_DAILY_LOSS_PCT = "max_daily_loss_pct"
    MAX_DRAWDOWN_PCT = "max_drawdown_pct"
    MAX_ORDER_QUANTITY = "max_order_quantity"
    MAX_ORDER_NOTIONAL = "max_order_notional"
    MAX_POSITION = "max_position"
    MAX_GROSS_EXPOSURE = "max_gross_exposure"
    MAX_NET_EXPOSURE = "max_net_exposure"
    MAX_LEVERAGE = "max_leverage"
    BELOW_MIN_QUANTITY = "below_min_quantity"
    INSTRUMENT_NOT_ACTIVE = "instrument_not_active"  # a dated contract before its activation
    INSTRUMENT_EXPIRED = "instrument_expired"  # a dated contract after its expiration


class RiskAction(StrEnum):
    APPROVE = "approve"
    REDUCE = "reduce"
    DENY = "deny"


class _Limits(BaseModel):
    """Limits shared by a strategy's constraints and the portfolio's; None means no limit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_position: Quantity | None = Field(
        default=None, description="largest absolute position per instrument (units)"
    )
    max_order_quantity: Quantity | None = None
    max_order_notional: LimitAmount | None = Field(
        default=None,
        description="largest |quantity x unit value| of one order (account base currency; "
        "a future's unit value is price x multiplier, an option's its delta-adjusted notional)",
    )
    max_open_orders: int | None = Field(default=None, gt=0, le=MAX_OPEN_ORDERS_LIMIT)
    max_daily_loss: LimitAmount | None = Field(
        default=None, description="loss since start of day (account currency)"
    )
    max_daily_loss_pct: Fraction | None = Field(
        default=None, description="loss since start of day / start-of-day equity"
    )
    max_drawdown_pct: Fraction | None = Field(
        default=None, description="fall from the high-water mark / high-water mark"
    )
    allowed_instruments: frozenset[InstrumentId] | None = Field(
        default=None, max_length=ALLOWED_INSTRUMENTS_MAX
    )
    long_only: bool = False
    allow_reduce: bool = Field(
        default=True, description="shrink an order to fit instead of denying it"
    )


class RiskConstraints(_Limits):
    """One strategy's limits (positions, orders and losses are that strategy's own)."""


class RiskLimits(_Limits):
    """The portfolio's limits, over every strategy together."""

    max_gross_exposure: LimitAmount | None = Field(
        default=None,
        description="sum of |net position x unit value| over every instrument (account base "
        "currency; unit value: price x multiplier x rate, an option's delta-adjusted notional)",
    )
    max_net_exposure: LimitAmount | None = Field(
        default=None,
        description="|sum of net position x unit value| (account base currency)",
    )
    max_leverage: Leverage | None = Field(default=None, description="gross exposure / equity")
    asset_classes: dict[AssetClass, AssetClassLimits] = Field(
        default_factory=dict,
        max_length=len(AssetClass),
        description="per asset class: limits over that class's instruments beside the "
        "portfolio's (account base currency)",
    )

    @model_serializer(mode="wrap")
    def _without_empty_classes(self, handler: SerializerFunctionWrapHandler) -> object:
        """No per-class limits: the document (and its hash, a run's fingerprint) is what it
        was before per-class limits existed."""
        document = handler(self)
        if isinstance(document, dict) and not self.asset_classes:
            document.pop("asset_classes", None)
        return document


_NO_CONSTRAINTS = RiskConstraints()  # immutable: safe to share, saves a validation per order
_NO_LIMITS = RiskLimits()


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What a strategy wants to do, before anything is sent (built per order: kept light).

    ``unit_value``: base-currency exposure one unit bought adds (``risk_values``: price x
    multiplier x rate, an option's delta-adjusted notional, signed); None: ``price`` (an
    instrument in the base currency with a multiplier of 1). ``premium``: an option's price
    per unit in the base currency (0 otherwise). ``asset_class``: None puts the order in no
    class, so no per-class limit applies to it.
    """

    strategy_id: str
    instrument_id: str
    side: int  # +1 buy, -1 sell
    quantity: Decimal
    price: Decimal  # reference price (quote currency) the unit value was taken at
    size_increment: Decimal = Decimal(1)
    ts_ns: int = 0
    signal_id: str | None = None
    unit_value: Decimal | None = None
    premium: Decimal = Decimal(0)
    asset_class: AssetClass | None = None

    def __post_init__(self) -> None:
        if self.side not in (1, -1):
            raise ValueError("side must be +1 (buy) or -1 (sell)")
        if self.quantity <= 0 or self.price <= 0 or self.size_increment <= 0:
            raise ValueError("quantity, price and size increment must be positive")

    @property
    def exposure_per_unit(self) -> Decimal:
        """Signed base-currency exposure of one unit bought."""
        return self.price if self.unit_value is None else self.unit_value


@dataclass(frozen=True, slots=True)
class RiskState:
    """The book as the gate sees it at one moment: positions, values, equity, states.

    Every amount is in the account's base currency. ``unit_values``: instrument -> signed
    base-currency exposure per unit held (``risk_values``); an instrument missing there is
    valued at its ``prices`` mark (base currency, multiplier 1), one with neither at 0.
    ``asset_classes``: instrument -> its class, for the per-class limits. ``premiums``:
    option -> its price per unit in the base currency (the premium at risk).
    """

    equity: Decimal
    start_of_day_equity: Decimal
    high_water_mark: Decimal
    strategy_equity_change_today: Mapping[str, Decimal] = field(default_factory=dict)
    strategy_drawdown_pct: Mapping[str, Decimal] = field(default_factory=dict)
    positions: Mapping[str, Mapping[str, Decimal]] = field(
        default_factory=dict
    )  # strategy -> instrument -> signed quantity
    prices: Mapping[str, Decimal] = field(default_factory=dict)  # instrument -> mark
    open_orders: Mapping[str, int] = field(default_factory=dict)  # strategy -> count
    portfolio_state: TradingState = TradingState.ACTIVE
    strategy_states: Mapping[str, TradingState] = field(default_factory=dict)
    instrument_states: Mapping[str, TradingState] = field(default_factory=dict)
    unit_values: Mapping[str, Decimal] = field(default_factory=dict)
    asset_classes: Mapping[str, AssetClass] = field(default_factory=dict)
    premiums: Mapping[str, Decimal] = field(default_factory=dict)

    def strategy_position(self, strategy_id: str, instrument_id: str) -> Decimal:
        return self.positions.get(strategy_id, {}).get(instrument_id, Decimal(0))

    def net_position(self, instrument_id: str) -> Decimal:
        return sum(
            (book.get(instrument_id, Decimal(0)) for book in self.positions.values()), Decimal(0)
        )

    def unit_value(self, instrument_id: str) -> Decimal:
        value = self.unit_values.get(instrument_id)
        return value if value is not None else self.prices.get(instrument_id, Decimal(0))

    def exposures(self) -> dict[str, Decimal]:
        """instrument -> net position x unit value (base currency)."""
        instruments = {i for book in self.positions.values() for i in book}
        return {i: self.net_position(i) * self.unit_value(i) for i in instruments}

    def premium_at_risk(self) -> Decimal:
        """Sum over the options held of |net position| x premium per unit (base currency)."""
        return sum((abs(self.net_position(i)) * p for i, p in self.premiums.items()), Decimal(0))


@dataclass(frozen=True, slots=True)
class Breach:
    rule: RiskRule
    scope: str  # "portfolio" or the strategy id
    limit: str
    value: str
    detail: str


@dataclass(frozen=True, slots=True)
class RiskDecision:
    action: RiskAction
    quantity: Decimal
    breaches: list[Breach]

    @property
    def approved(self) -> bool:
        return self.action is not RiskAction.DENY


def reduces_risk(current: Decimal, side: int, quantity: Decimal) -> bool:
    """True when the order moves a position toward zero without crossing it."""
    after = current + side * quantity
    return (
        current != 0 and abs(after) < abs(current) and (after == 0 or (after > 0) == (current > 0))
    )


def check_order(
    intent: OrderIntent,
    state: RiskState,
    constraints: RiskConstraints | None = None,
    limits: RiskLimits | None = None,
) -> RiskDecision:
    """The gate: every order, every strategy, the same rules (one function, no copies)."""
    constraints = constraints or _NO_CONSTRAINTS
    limits = limits or _NO_LIMITS
    scopes: list[tuple[str, _Limits]] = [(intent.strategy_id, constraints), ("portfolio", limits)]
    current = state.strategy_position(intent.strategy_id, intent.instrument_id)
    reducing = reduces_risk(current, intent.side, intent.quantity)
    deny: list[Breach] = []

    for scope, rule_state in _states(intent, state):
        if rule_state is TradingState.HALTED:
            deny.append(_breach(RiskRule.TRADING_HALTED, scope, "HALTED", "HALTED", "halted"))
        elif rule_state is TradingState.REDUCING and not reducing:
            deny.append(
                _breach(RiskRule.TRADING_REDUCING, scope, "REDUCING", "increase", "only reduce")
            )
    for scope, rules in scopes:
        if rules.allowed_instruments is not None and (
            intent.instrument_id not in rules.allowed_instruments
        ):
            deny.append(
                _breach(
                    RiskRule.INSTRUMENT_NOT_ALLOWED,
                    scope,
                    ",".join(sorted(rules.allowed_instruments)),
                    intent.instrument_id,
                    "instrument is not in the allowed list",
                )
            )
        open_orders = (
            state.open_orders.get(intent.strategy_id, 0)
            if scope != "portfolio"
            else sum(state.open_orders.values())
        )
        if rules.max_open_orders is not None and open_orders >= rules.max_open_orders:
            deny.append(
                _breach(
                    RiskRule.MAX_OPEN_ORDERS,
                    scope,
                    str(rules.max_open_orders),
                    str(open_orders),
                    "open orders at the limit",
                )
            )
        if not reducing:
            deny.extend(_loss_breaches(intent.strategy_id, scope, rules, state))
    if deny:
        return RiskDecision(action=RiskAction.DENY, quantity=Decimal(0), breaches=deny)

    allowed, binding = _largest_quantity(intent, state, scopes, reducing)
    step = intent.size_increment
    allowed = (allowed / step).to_integral_value(rounding="ROUND_FLOOR") * step
    if allowed >= intent.quantity:
        return RiskDecision(action=RiskAction.APPROVE, quantity=intent.quantity, breaches=[])
    may_reduce = all(rules.allow_reduce for _, rules in scopes)
    if allowed <= 0 or not may_reduce:
        if allowed <= 0:
            binding.append(
                _breach(
                    RiskRule.BELOW_MIN_QUANTITY,
                    intent.strategy_id,
                    str(step),
                    str(max(allowed, Decimal(0))),
                    "no positive quantity keeps every limit",
                )
            )
        return RiskDecision(action=RiskAction.DENY, quantity=Decimal(0), breaches=binding)
    return RiskDecision(action=RiskAction.REDUCE, quantity=allowed, breaches=binding)


def _states(intent: OrderIntent, state: RiskState) -> list[tuple[str, TradingState]]:
    return [
        ("portfolio", state.portfolio_state),
        (intent.strategy_id, state.strategy_states.get(intent.strategy_id, TradingState.ACTIVE)),
        (
            intent.instrument_id,
            state.instrument_states.get(intent.instrument_id, TradingState.ACTIVE),
        ),
    ]


def _loss_breaches(strategy_id: str, scope: str, rules: _Limits, state: RiskState) -> list[Breach]:
    out: list[Breach] = []
    if scope == "portfolio":
        change = state.equity - state.start_of_day_equity
        base = state.start_of_day_equity
        drawdown = (
            (state.high_water_mark - state.equity) / state.high_water_mark
            if state.high_water_mark > 0
            else Decimal(0)
        )
    else:
        change = state.strategy_equity_change_today.get(strategy_id, Decimal(0))
        base = state.start_of_day_equity
        drawdown = state.strategy_drawdown_pct.get(strategy_id, Decimal(0))
    loss = -change
    if rules.max_daily_loss is not None and loss >= rules.max_daily_loss:
        out.append(
            _breach(
                RiskRule.MAX_DAILY_LOSS, scope, str(rules.max_daily_loss), str(loss), "daily loss"
            )
        )
    if (
        rules.max_daily_loss_pct is not None
        and base > 0
        and loss / base >= rules.max_daily_loss_pct
    ):
        out.append(
            _breach(
                RiskRule.MAX_DAILY_LOSS_PCT,
                scope,
                str(rules.max_daily_loss_pct),
                str(loss / base),
                "daily loss / start-of-day equity",
            )
        )
    if rules.max_drawdown_pct is not None and drawdown >= rules.max_drawdown_pct:
        out.append(
            _breach(
                RiskRule.MAX_DRAWDOWN_PCT,
                scope,
                str(rules.max_drawdown_pct),
                str(drawdown),
                "drawdown from the high-water mark",
            )
        )
    return out


def _largest_quantity(
    intent: OrderIntent, state: RiskState, scopes: list[tuple[str, _Limits]], reducing: bool
) -> tuple[Decimal, list[Breach]]:
    """The largest quantity every quantity-shaped rule allows, and the rules that bind.

    Each rule allows every whole number of increments up to its own largest quantity, and no
    more: order size, notional and long-only are upper bounds by nature, and a position or
    exposure limit allows what ends within it or takes a value already past it back toward it
    without crossing zero, which together is everything up to the largest quantity that ends
    within it. So the intersection is everything up to the smallest of those largest
    quantities, and any quantity up to it keeps every rule (no gap below it).
    """
    side, quantity = intent.side, intent.quantity
    per_unit = abs(intent.exposure_per_unit)  # base-currency notional of one unit
    step = intent.size_increment
    candidates: list[tuple[Decimal, Breach]] = []

    def bound(
        room: Decimal, per_unit: Decimal, rule: RiskRule, scope: str, limit: object, value: object
    ) -> None:
        """Quantities ``q`` with ``q * per_unit <= room`` are allowed (exact: no rounding)."""
        if room >= quantity * per_unit:
            return
        largest = (room // (per_unit * step)) * step if room > 0 else Decimal(0)
        candidates.append((largest, _breach(rule, scope, str(limit), str(value), rule.value)))

    one = Decimal(1)
    for scope, rules in scopes:
        position = (
            state.strategy_position(intent.strategy_id, intent.instrument_id)
            if scope != "portfolio"
            else state.net_position(intent.instrument_id)
        )
        if rules.max_order_quantity is not None:
            limit = rules.max_order_quantity
            bound(limit, one, RiskRule.MAX_ORDER_QUANTITY, scope, limit, quantity)
        if rules.max_order_notional is not None and per_unit:
            limit = rules.max_order_notional
            bound(limit, per_unit, RiskRule.MAX_ORDER_NOTIONAL, scope, limit, quantity * per_unit)
        if rules.long_only and side < 0:
            bound(position, one, RiskRule.LONG_ONLY, scope, 0, position - quantity)
        if rules.max_position is not None and not reducing:
            limit = rules.max_position
            after = abs(position + side * quantity)
            bound(limit - side * position, one, RiskRule.MAX_POSITION, scope, limit, after)
    if not reducing:
        limits = scopes[1][1]
        assert isinstance(limits, RiskLimits)
        exposures = state.exposures()
        rooms = _exposure_rooms(intent, exposures, state.equity, limits, "portfolio")
        kind = intent.asset_class
        by_class = limits.asset_classes.get(kind) if kind is not None else None
        if kind is not None and by_class is not None:
            scope = class_scope(kind)
            if by_class.max_position is not None:
                limit = by_class.max_position
                position = state.net_position(intent.instrument_id)
                after = abs(position + side * quantity)
                bound(limit - side * position, one, RiskRule.MAX_POSITION, scope, limit, after)
            own = {
                i: v
                for i, v in exposures.items()
                if i == intent.instrument_id or state.asset_classes.get(i) is kind
            }
            rooms += _exposure_rooms(intent, own, state.equity, by_class, scope)
        if per_unit:  # an order that moves no exposure (an option of delta 0) meets no room
            for room, rule, scope, limit, value in rooms:
                bound(room, per_unit, rule, scope, limit, value)
    if not candidates:
        return quantity, []
    allowed = min(q for q, _ in candidates)
    return allowed, [b for _, b in candidates]


def _exposure_rooms(
    intent: OrderIntent,
    exposures: Mapping[str, Decimal],
    equity: Decimal,
    limits: "RiskLimits | AssetClassLimits",
    scope: str,
) -> list[tuple[Decimal, RiskRule, str, Decimal, str]]:
    """Gross, net and leverage limits as room for exposure in the order's direction.

    An order may end within a limit, or shrink a breached value without crossing zero (the
    net exposure for the net limit, this instrument's exposure for gross and leverage): it
    makes no breach worse, as a position limit already lets a position come back toward it.
    With no positive equity, leverage has no meaning and only shrinking gross exposure passes.
    ``exposures``: the scope's instruments (every one, or one asset class's). The order's
    direction is its side times the sign of its unit value (buying a put sells exposure).
    """
    here = exposures.get(intent.instrument_id, Decimal(0))
    others_gross = sum(
        (abs(v) for k, v in exposures.items() if k != intent.instrument_id), Decimal(0)
    )
    net = sum(exposures.values(), Decimal(0))
    unit = intent.exposure_per_unit
    side = intent.side if unit >= 0 else -intent.side
    moved = intent.side * unit * intent.quantity
    after = here + moved
    gross_after = others_gross + abs(after)
    shrink = max(-side * here, Decimal(0))  # exposure this order can take off this instrument

    def gross_room(cap: Decimal) -> Decimal:
        return cap - others_gross - side * here if cap >= others_gross else shrink

    out: list[tuple[Decimal, RiskRule, str, Decimal, str]] = []
    if limits.max_gross_exposure is not None:
        cap = limits.max_gross_exposure
        out.append((gross_room(cap), RiskRule.MAX_GROSS_EXPOSURE, scope, cap, str(gross_after)))
    if limits.max_net_exposure is not None:
        cap = limits.max_net_exposure
        net_after = abs(net + moved)
        out.append((cap - side * net, RiskRule.MAX_NET_EXPOSURE, scope, cap, str(net_after)))
    if limits.max_leverage is not None:
        cap = limits.max_leverage
        if equity > 0:
            value = str(gross_after / equity)
            out.append((gross_room(cap * equity), RiskRule.MAX_LEVERAGE, scope, cap, value))
        else:
            value = "inf (equity is not positive)"
            out.append((shrink, RiskRule.MAX_LEVERAGE, scope, cap, value))
    return out


def _breach(rule: RiskRule, scope: str, limit: str, value: str, detail: str) -> Breach:
    return Breach(rule=rule, scope=scope, limit=limit, value=value, detail=detail)


class BreachAction(StrEnum):
    """What a drawdown or daily-loss breach does to the scope that breached."""

    REDUCING = "REDUCING"
    HALTED = "HALTED"


class KillSwitchScope(StrEnum):
    PORTFOLIO = "portfolio"
    STRATEGY = "strategy"
    INSTRUMENT = "instrument"


def _target(value: str) -> str:
    return value if value == "" else single_line(value)


class KillSwitchEvent(BaseModel):
    """A kill switch thrown or released at a simulated time (to study "what if we had halted")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ts_ns: int = Field(ge=TS_MIN_NS, le=TS_MAX_NS)
    action: str = Field(pattern=r"^(kill|release)$")
    scope: KillSwitchScope = KillSwitchScope.PORTFOLIO
    target: Annotated[str, AfterValidator(_target)] = Field(
        default="", max_length=LABEL_MAX_LENGTH, description="strategy or instrument id"
    )
    reason: Annotated[str, AfterValidator(free_text)] = Field(
        default="", max_length=REASON_MAX_LENGTH
    )

    @model_validator(mode="after")
    def _check_target(self) -> Self:
        if (self.scope is KillSwitchScope.PORTFOLIO) != (self.target == ""):
            raise ValueError("a portfolio switch has no target; others need one")
        return self


_SUBMIT_RATE = re.compile(r"([0-9]{1,9})/([0-9]{2}):([0-5][0-9]):([0-5][0-9])")


def _submit_rate(value: str) -> str:
    """``LIMIT/HH:MM:SS``: at least one order in a positive interval (the engine's format)."""
    match = _SUBMIT_RATE.fullmatch(value)
    if match is None or int(match[1]) < 1 or not any(int(part) for part in match.groups()[1:]):
        raise ValueError(
            f"{shown(value)} is not an order rate LIMIT/HH:MM:SS with a limit of 1 to 999999999 "
            "and a positive interval (e.g. 100/00:00:01)"
        )
    return value


class RiskConfig(BaseModel):
    """The risk layer of one run: limits, what breaches do, and scheduled kill switches."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    limits: RiskLimits = Field(default_factory=RiskLimits)
    constraints: dict[str, RiskConstraints] = Field(
        default_factory=dict, description="strategy id -> its own constraints"
    )
    on_breach: BreachAction = BreachAction.REDUCING
    flatten_on_breach: bool = False
    max_order_submit_rate: Annotated[str, AfterValidator(_submit_rate)] | None = Field(
        default=None, description="engine-level second line, e.g. 100/00:00:01"
    )
    schedule: list[KillSwitchEvent] = Field(default_factory=list)
    gate: bool = Field(
        default=True,
        description="off only to measure the gate's cost: orders then meet the engine's own "
        "risk engine alone",
    )

    @property
    def sets_no_limit(self) -> bool:
        """No limit of any kind: only trading states (kill switches) can stop an order."""
        empty = RiskLimits()
        return self.limits == empty and all(
            c == RiskConstraints() for c in self.constraints.values()
        )

    @property
    def watches_equity(self) -> bool:
        """Whether any rule needs equity followed over time (drawdown or daily loss)."""
        scopes: list[_Limits] = [self.limits, *self.constraints.values()]
        return any(
            s.max_drawdown_pct is not None
            or s.max_daily_loss is not None
            or s.max_daily_loss_pct is not None
            for s in scopes
        )


class RiskEventKind(StrEnum):
    DENY = "deny"
    REDUCE = "reduce"
    HALT = "halt"
    REDUCING = "reducing"
    RELEASE = "release"
    MISMATCH = "mismatch"


class RiskEvent(BaseModel):
    """Every risk decision that is not a plain approve, with the numbers behind it."""

    model_config = ConfigDict(frozen=True)

    ts_ns: int
    kind: RiskEventKind
    scope: str
    strategy_id: str = ""
    instrument_id: str = ""
    rule: str
    detail: str
    requested: str = ""
    approved: str = ""
    premium_at_risk: str = Field(
        default="",
        description="options held, at the decision with the order at its approved quantity: "
        "sum of |position| x option price x multiplier x rate (account base currency); "
        "empty in runs without options",
    )

    @model_serializer(mode="wrap")
    def _without_empty_premium(self, handler: SerializerFunctionWrapHandler) -> object:
        """No options: the event's document is what it was before premiums were shown."""
        document = handler(self)
        if isinstance(document, dict) and not self.premium_at_risk:
            document.pop("premium_at_risk", None)
        return document


GATE_ENDPOINT = "quantdesk.risk.gate"
FLATTEN_TOPIC = "quantdesk.risk.flatten"


class GateRequest:
    """What a strategy asks the risk layer about one order; the layer writes the decision in.

    A plain mutable carrier because the engine's message bus delivers it synchronously and
    returns nothing: no decision written back means no risk layer, and the order is denied.
    """

    __slots__ = (
        "decision",
        "instrument_id",
        "limit_price",
        "quantity",
        "side",
        "signal_id",
        "strategy_id",
    )

    def __init__(
        self,
        strategy_id: str,
        instrument_id: str,
        side: int,
        quantity: Decimal,
        limit_price: Decimal | None = None,
        signal_id: str | None = None,
    ) -> None:
        self.strategy_id = strategy_id
        self.instrument_id = instrument_id
        self.side = side
        self.quantity = quantity
        self.limit_price = limit_price
        self.signal_id = signal_id  # the AI signal the order is taken on, if any
        self.decision: RiskDecision | None = None


class KillSwitch(BaseModel):
    """A kill switch thrown on the desk (not in a simulation): who, when, why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scope: KillSwitchScope
    target: str = ""
    reason: str
    actor: str
    thrown_at_ns: int

    @property
    def key(self) -> str:
        return f"{self.scope.value}:{self.target}"
