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

from collections.abc import Mapping
from decimal import Decimal

from quantdesk.domain.risk_config import (
    FLATTEN_TOPIC,
    GATE_ENDPOINT,
    BreachAction,
    GateRequest,
    KillSwitch,
    KillSwitchEvent,
    KillSwitchScope,
    RiskConfig,
    RiskEvent,
    RiskEventKind,
)
from quantdesk.domain.risk_model import (
    _NO_CONSTRAINTS,
    _NO_LIMITS,
    ALLOWED_INSTRUMENTS_MAX,
    MAX_OPEN_ORDERS_LIMIT,
    Breach,
    InstrumentId,
    OrderIntent,
    RiskAction,
    RiskConstraints,
    RiskDecision,
    RiskLimits,
    RiskRule,
    RiskState,
    TradingState,
    _Limits,
    reduces_risk,
)
from quantdesk.domain.risk_values import AssetClassLimits, class_scope

__all__ = [  # the vocabulary of ``risk_model`` is the gate's too: one import for both
    "ALLOWED_INSTRUMENTS_MAX",
    "FLATTEN_TOPIC",
    "GATE_ENDPOINT",
    "MAX_OPEN_ORDERS_LIMIT",
    "Breach",
    "BreachAction",
    "GateRequest",
    "InstrumentId",
    "KillSwitch",
    "KillSwitchEvent",
    "KillSwitchScope",
    "OrderIntent",
    "RiskAction",
    "RiskConfig",
    "RiskConstraints",
    "RiskDecision",
    "RiskEvent",
    "RiskEventKind",
    "RiskLimits",
    "RiskRule",
    "RiskState",
    "TradingState",
    "check_order",
    "reduces_risk",
]


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

    allowed, binding = _largest_quantity(intent, state, scopes, limits, reducing)
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
    intent: OrderIntent,
    state: RiskState,
    scopes: list[tuple[str, _Limits]],
    limits: RiskLimits,
    reducing: bool,
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

    def position_bound(limit: Decimal, position: Decimal, scope: str) -> None:
        after = abs(position + side * quantity)
        bound(limit - side * position, one, RiskRule.MAX_POSITION, scope, limit, after)

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
            position_bound(rules.max_position, position, scope)
    if not reducing:
        exposures = state.exposures()
        rooms = _exposure_rooms(intent, exposures, state.equity, limits, "portfolio")
        kind = intent.asset_class
        by_class = limits.asset_classes.get(kind) if kind is not None else None
        if kind is not None and by_class is not None:
            scope = class_scope(kind)
            if by_class.max_position is not None:
                position = state.net_position(intent.instrument_id)
                position_bound(by_class.max_position, position, scope)
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
