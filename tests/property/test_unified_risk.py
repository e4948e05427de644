"""Property 17: unified base-currency exposure across asset classes (issue 17, part 5).

A USD book holding an equity, an FX pair quoted in JPY, a USD future with a multiplier of 50,
a JPY-quoted future with a multiplier of 500 and an option valued by its delta: the gate's
exposure is the sum of each position's converted exposure, computed here from the raw
numbers (quantity x price x multiplier x rate, an option's delta x underlying x multiplier x
rate), and no approved or reduced order leaves any limit (portfolio, per asset class,
strategy) breached that held, or a breach worse, once it fills.
"""

from dataclasses import replace
from decimal import Decimal

from hypothesis import event, given, settings
from hypothesis import strategies as st

from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.risk import (
    OrderIntent,
    RiskAction,
    RiskConstraints,
    RiskLimits,
    RiskState,
    TradingState,
    check_order,
    reduces_risk,
)
from quantdesk.domain.risk_screen import ScreenBook, ScreenLimits, clearly_approved
from quantdesk.domain.risk_values import AssetClassLimits, premium_per_unit, unit_value
from support.contracts import equity, future, option

EXPIRY = "2030-12-20T21:00:00Z"
SPECS = {
    s.instrument_id: s
    for s in (
        equity("AAA.XNAS"),
        InstrumentSpec(
            instrument_id="EUR/JPY.SIM",
            asset_class=AssetClass.FX,
            currency="JPY",
            base_currency="EUR",
            tick_size=Decimal("0.001"),
        ),
        future("ESZ0.XCME", expiration_ns=EXPIRY),
        future(
            "NIYZ0.XOSE",
            currency="JPY",
            tick_size=Decimal(5),
            multiplier=Decimal(500),
            underlying="NIY",
            expiration_ns=EXPIRY,
        ),
        option("AAA301220C100.XNAS", underlying="AAA.XNAS", strike=100, expiration_ns=EXPIRY),
    )
}
INSTRUMENTS = list(SPECS)
OPTION = "AAA301220C100.XNAS"
UNDERLYING = "AAA.XNAS"
STRATEGIES = ["S1", "S2"]
ZERO = Decimal(0)
CLASSES = {i: s.asset_class for i, s in SPECS.items()}
LIMITED = (AssetClass.EQUITY, AssetClass.FX, AssetClass.FUTURE, AssetClass.OPTION)


def cents(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low * 100, high * 100).map(lambda v: Decimal(v) / 100)


@st.composite
def markets(draw: st.DrawFn) -> dict[str, Decimal]:
    """Marks, the JPY rate and the option's delta (a put-like negative one too)."""
    return {
        "AAA.XNAS": draw(cents(20, 300)),
        "EUR/JPY.SIM": draw(cents(120, 180)),
        "ESZ0.XCME": draw(cents(3_000, 6_000)),
        "NIYZ0.XOSE": Decimal(draw(st.integers(5_000, 8_000)) * 5),
        OPTION: draw(cents(1, 60)),
        "JPY": Decimal(draw(st.integers(5_000, 10_000))) / 1_000_000,
        "delta": Decimal(draw(st.integers(-10_000, 10_000))) / 10_000,
    }


def rate(market: dict[str, Decimal], instrument: str) -> Decimal:
    return market["JPY"] if SPECS[instrument].currency == "JPY" else Decimal(1)


def converted(market: dict[str, Decimal], instrument: str) -> Decimal:
    """One unit's base-currency exposure, from the raw numbers (not the gate's helpers)."""
    if instrument == OPTION:
        return market["delta"] * market[UNDERLYING] * 100
    multiplier = {"ESZ0.XCME": Decimal(50), "NIYZ0.XOSE": Decimal(500)}.get(instrument, 1)
    return market[instrument] * multiplier * rate(market, instrument)


def gate_units(market: dict[str, Decimal]) -> dict[str, Decimal]:
    """The unit values as the engine's guard builds them (``risk_values.unit_value``)."""
    return {
        i: unit_value(
            spec,
            market[i],
            rate(market, i),
            market["delta"] if i == OPTION else None,
            market[UNDERLYING] if i == OPTION else None,
        )
        for i, spec in SPECS.items()
    }


@st.composite
def books(draw: st.DrawFn) -> tuple[RiskState, dict[str, Decimal]]:
    market = draw(markets())
    small = {"ESZ0.XCME", "NIYZ0.XOSE", OPTION}
    positions = {
        s: {
            i: Decimal(draw(st.integers(-20, 20) if i in small else st.integers(-300, 300)))
            for i in INSTRUMENTS
        }
        for s in STRATEGIES
    }
    equity = Decimal(draw(st.integers(50_000, 2_000_000)))
    state = RiskState(
        equity=equity,
        start_of_day_equity=equity,
        high_water_mark=equity,
        strategy_equity_change_today=dict.fromkeys(STRATEGIES, ZERO),
        strategy_drawdown_pct=dict.fromkeys(STRATEGIES, ZERO),
        positions=positions,
        prices={i: market[i] for i in INSTRUMENTS},
        open_orders=dict.fromkeys(STRATEGIES, 0),
        unit_values=gate_units(market),
        asset_classes=CLASSES,
        premiums={OPTION: premium_per_unit(market[OPTION], Decimal(100), Decimal(1))},
    )
    return state, market


def rarely(values: st.SearchStrategy[Decimal]) -> st.SearchStrategy[Decimal | None]:
    return st.integers(0, 2).flatmap(lambda k: values if k == 0 else st.none())


money = st.integers(10_000, 3_000_000).map(Decimal)
leverage = st.integers(1, 20).map(Decimal)


@st.composite
def limits(draw: st.DrawFn) -> tuple[RiskConstraints, RiskLimits]:
    classes = {
        k: AssetClassLimits(
            max_position=draw(rarely(st.integers(1, 400).map(Decimal))),
            max_gross_exposure=draw(rarely(money)),
            max_net_exposure=draw(rarely(money)),
            max_leverage=draw(rarely(leverage)),
        )
        for k in draw(st.sets(st.sampled_from(LIMITED)))
    }
    portfolio = RiskLimits(
        max_position=draw(rarely(st.integers(1, 500).map(Decimal))),
        max_order_notional=draw(rarely(money)),
        max_gross_exposure=draw(rarely(money)),
        max_net_exposure=draw(rarely(money)),
        max_leverage=draw(rarely(leverage)),
        asset_classes=classes,
    )
    strategy = RiskConstraints(
        max_position=draw(rarely(st.integers(1, 500).map(Decimal))),
        max_order_notional=draw(rarely(money)),
        allow_reduce=draw(st.booleans()),
    )
    return strategy, portfolio


orders = st.tuples(
    st.sampled_from(STRATEGIES),
    st.sampled_from(INSTRUMENTS),
    st.sampled_from([1, -1]),
    st.integers(1, 400),
)


def intent(market: dict[str, Decimal], order: tuple[str, str, int, int]) -> OrderIntent:
    strategy, instrument, side, quantity = order
    return OrderIntent(
        strategy_id=strategy,
        instrument_id=instrument,
        side=side,
        quantity=Decimal(quantity),
        price=market[instrument],
        unit_value=gate_units(market)[instrument],
        asset_class=CLASSES[instrument],
    )


def nets(state: RiskState, instrument: str = "", delta: Decimal = ZERO) -> dict[str, Decimal]:
    return {
        i: sum((state.positions[s][i] for s in STRATEGIES), ZERO)
        + (delta if i == instrument else ZERO)
        for i in INSTRUMENTS
    }


def measures(
    state: RiskState, market: dict[str, Decimal], held: dict[str, Decimal], kind: object
) -> tuple[Decimal, Decimal]:
    """Gross and |net| exposure of the instruments of class ``kind`` (None: all)."""
    values = [
        held[i] * converted(market, i) for i in INSTRUMENTS if kind is None or CLASSES[i] is kind
    ]
    return sum((abs(v) for v in values), ZERO), abs(sum(values, ZERO))


def no_worse(before: Decimal, after: Decimal, limit: Decimal | None) -> bool:
    return limit is None or after <= limit or after < before


@settings(max_examples=500, deadline=None)
@given(book=books(), rules=limits(), order=orders)
def test_property_17_unified_base_currency_exposure(
    book: tuple[RiskState, dict[str, Decimal]],
    rules: tuple[RiskConstraints, RiskLimits],
    order: tuple[str, str, int, int],
) -> None:
    # Property 17: unified base-currency exposure — the gate's exposure is the sum of each
    # position's converted exposure, and no approved (or reduced) order breaches a limit
    # (portfolio, per asset class, strategy) after it fills, nor makes a breach worse
    state, market = book
    strategy, portfolio = rules
    held = nets(state)
    exposures = state.exposures()
    for i in INSTRUMENTS:
        assert exposures[i] == held[i] * converted(market, i)
    gross, net = measures(state, market, held, None)
    assert sum((abs(v) for v in exposures.values()), ZERO) == gross
    assert abs(sum(exposures.values(), ZERO)) == net
    expected_premium = abs(held[OPTION]) * market[OPTION] * 100
    assert state.premium_at_risk() == expected_premium

    wanted = intent(market, order)
    decision = check_order(wanted, state, strategy, portfolio)
    event(decision.action.value)
    if decision.action is RiskAction.DENY:
        assert decision.breaches
        return
    q = decision.quantity
    instrument, side = wanted.instrument_id, wanted.side
    notional = q * abs(converted(market, instrument))
    for scope in (strategy, portfolio):
        assert scope.max_order_notional is None or notional <= scope.max_order_notional
    own = state.positions[wanted.strategy_id][instrument]
    if reduces_risk(own, side, q):
        return  # getting out is allowed whatever the exposure
    after = nets(state, instrument, side * q)
    assert no_worse(abs(held[instrument]), abs(after[instrument]), portfolio.max_position)
    assert no_worse(abs(own), abs(own + side * q), strategy.max_position)
    scopes: list[tuple[object, RiskLimits | AssetClassLimits]] = [(None, portfolio)]
    scopes += list(portfolio.asset_classes.items())
    for kind, scope_limits in scopes:
        if kind is not None and kind is not CLASSES[instrument]:
            continue  # another class's exposure does not move
        if isinstance(scope_limits, AssetClassLimits):  # per instrument of the class
            limit = scope_limits.max_position
            assert no_worse(abs(held[instrument]), abs(after[instrument]), limit), kind
        gross_before, net_before = measures(state, market, held, kind)
        gross_after, net_after = measures(state, market, after, kind)
        if converted(market, instrument) == 0:  # an option of delta 0 moves no exposure
            assert (gross_after, net_after) == (gross_before, net_before)
            continue
        assert no_worse(gross_before, gross_after, scope_limits.max_gross_exposure), kind
        assert no_worse(net_before, net_after, scope_limits.max_net_exposure), kind
        if scope_limits.max_leverage is not None:
            assert gross_after <= gross_before or (
                gross_after <= scope_limits.max_leverage * state.equity
            ), kind


def screen_book(state: RiskState) -> ScreenBook:
    return ScreenBook(
        equity=float(state.equity),
        start_of_day_equity=float(state.start_of_day_equity),
        high_water_mark=float(state.high_water_mark),
        strategy_equity_change_today=dict.fromkeys(STRATEGIES, 0.0),
        strategy_drawdown_pct=dict.fromkeys(STRATEGIES, 0.0),
        positions={s: {i: float(q) for i, q in b.items()} for s, b in state.positions.items()},
        prices={i: float(p) for i, p in state.prices.items()},
        open_orders=dict(state.open_orders),
        unit_values={i: float(v) for i, v in state.unit_values.items()},
        asset_classes=dict(state.asset_classes),
    )


@settings(max_examples=500, deadline=None)
@given(book=books(), rules=limits(), order=orders)
def test_property_17_the_screen_approves_only_what_the_gate_approves_across_classes(
    book: tuple[RiskState, dict[str, Decimal]],
    rules: tuple[RiskConstraints, RiskLimits],
    order: tuple[str, str, int, int],
) -> None:
    # Property 17: unified base-currency exposure — the float screen, valuing the same
    # multi-currency, multi-class book, never approves what the exact gate denies or reduces
    state, market = book
    strategy, portfolio = rules
    state = replace(state, portfolio_state=TradingState.ACTIVE)
    wanted = intent(market, order)
    own = state.positions[wanted.strategy_id][wanted.instrument_id]
    passed = clearly_approved(
        wanted.strategy_id,
        wanted.instrument_id,
        wanted.side,
        float(wanted.quantity),
        float(wanted.price),
        reduces_risk(own, wanted.side, wanted.quantity),
        screen_book(state),
        ScreenLimits.of(strategy),
        ScreenLimits.of(portfolio),
        unit_value=float(wanted.exposure_per_unit),
        asset_class=wanted.asset_class,
    )
    event("screen approved" if passed else "screen deferred")
    if passed:
        decision = check_order(wanted, state, strategy, portfolio)
        assert (decision.action, decision.quantity) == (RiskAction.APPROVE, wanted.quantity)
