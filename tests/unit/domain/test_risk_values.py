"""The gate in the base currency: futures at price x multiplier, options at their delta-adjusted
notional with the premium at risk beside it, per-asset-class limits naming their class."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from quantdesk.domain import options
from quantdesk.domain.instruments import AssetClass
from quantdesk.domain.risk import (
    OrderIntent,
    RiskAction,
    RiskEvent,
    RiskEventKind,
    RiskLimits,
    RiskRule,
    RiskState,
    check_order,
)
from quantdesk.domain.risk_limits import limits_document, limits_hash
from quantdesk.domain.risk_values import (
    AssetClassLimits,
    class_scope,
    option_delta,
    pnl_currency,
    premium_per_unit,
    unit_value,
)
from support.contracts import future, option

ES = future()
CALL = option(
    "AAPL240621C00190000.XNAS",
    underlying="AAPL.XNAS",
    strike=190,
    expiration_ns="2024-06-21T20:00:00Z",
)
NOW = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z
ZERO = Decimal(0)


def book(positions: dict[str, Decimal], **kwargs: object) -> RiskState:
    equity = Decimal(1_000_000)
    return RiskState(
        equity=equity,
        start_of_day_equity=equity,
        high_water_mark=equity,
        positions={"S1": positions},
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_futures_notional_is_price_times_multiplier() -> None:
    unit = unit_value(ES, Decimal(5000), Decimal(1))
    assert unit == Decimal(250_000)
    order = OrderIntent(
        "S1",
        ES.instrument_id,
        1,
        Decimal(3),
        Decimal(5000),
        unit_value=unit,
        asset_class=AssetClass.FUTURE,
    )
    decision = check_order(order, book({}), limits=RiskLimits(max_order_notional=Decimal(600_000)))
    assert (decision.action, decision.quantity) == (RiskAction.REDUCE, Decimal(2))
    (breach,) = decision.breaches
    assert breach.rule is RiskRule.MAX_ORDER_NOTIONAL
    assert Decimal(breach.value) == Decimal(750_000)  # 3 x 5,000 x 50, not 3 x 5,000


def test_a_foreign_quote_is_converted_at_its_rate() -> None:
    niy = ES.model_copy(
        update={"instrument_id": "NIYH4.XOSE", "currency": "JPY", "multiplier": Decimal(500)}
    )
    assert pnl_currency(niy) == "JPY"
    assert unit_value(niy, Decimal(33_000), Decimal("0.0068")) == Decimal(112_200)


def test_an_option_counts_its_delta_adjusted_notional_and_shows_its_premium() -> None:
    delta = option_delta(CALL, 8.5, 185.0, NOW, on_future=False)
    t = options.year_fraction(NOW, CALL.expiration_ns or 0)
    sigma = options.implied_volatility(8.5, CALL.option_kind, s=185.0, k=190.0, t=t, r=0.0, b=0.0)
    assert (
        delta
        == options.greeks(CALL.option_kind, s=185.0, k=190.0, t=t, sigma=sigma, r=0, b=0).delta
    )
    assert 0.3 < delta < 0.6
    unit = unit_value(CALL, Decimal("8.5"), Decimal(1), Decimal(repr(delta)), Decimal(185))
    assert unit == Decimal(repr(delta)) * 185 * 100
    state = book(
        {CALL.instrument_id: Decimal(-4)},
        unit_values={CALL.instrument_id: unit},
        premiums={CALL.instrument_id: premium_per_unit(Decimal("8.5"), Decimal(100), Decimal(1))},
    )
    assert state.exposures() == {CALL.instrument_id: -4 * unit}  # short calls: short delta
    assert state.premium_at_risk() == Decimal(3400)  # 4 x 8.50 x 100


def test_an_option_on_a_future_uses_black_76() -> None:
    on_future = CALL.model_copy(update={"underlying": "ESM4.XCME"})
    t = options.year_fraction(NOW, CALL.expiration_ns or 0)
    delta = option_delta(on_future, 8.5, 185.0, NOW, on_future=True)
    sigma = options.implied_volatility(8.5, CALL.option_kind, s=185.0, k=190.0, t=t, r=0.0, b=0.0)
    # with r = 0 the carry of a stock and of a future are both 0: the same delta
    assert (
        delta
        == options.greeks(CALL.option_kind, s=185.0, k=190.0, t=t, sigma=sigma, r=0, b=0).delta
    )
    with_rate = option_delta(on_future, 8.5, 185.0, NOW, on_future=True, rate=0.05)
    on_stock = option_delta(CALL, 8.5, 185.0, NOW, on_future=False, rate=0.05)
    assert with_rate != on_stock  # b = 0 against b = r


def test_buying_a_put_takes_exposure_off() -> None:
    """A put's unit value is negative: buying puts against a long book shrinks net exposure."""
    state = book(
        {"AAPL.XNAS": Decimal(1000), "PUT.XNAS": ZERO},
        prices={"AAPL.XNAS": Decimal(100)},
        unit_values={"PUT.XNAS": Decimal(-5000)},  # delta -0.5 x 100 x 100
    )
    limits = RiskLimits(max_net_exposure=Decimal(100_000))
    put = OrderIntent("S1", "PUT.XNAS", 1, Decimal(10), Decimal(4), unit_value=Decimal(-5000))
    assert check_order(put, state, limits=limits).action is RiskAction.APPROVE
    sell = OrderIntent("S1", "PUT.XNAS", -1, Decimal(1), Decimal(4), unit_value=Decimal(-5000))
    assert check_order(sell, state, limits=limits).action is RiskAction.DENY


def test_a_per_class_limit_binds_with_its_class_as_scope() -> None:
    unit = Decimal(250_000)
    state = book(
        {ES.instrument_id: Decimal(2), "AAPL.XNAS": Decimal(1000)},
        prices={"AAPL.XNAS": Decimal(100)},
        unit_values={ES.instrument_id: unit},
        asset_classes={ES.instrument_id: AssetClass.FUTURE, "AAPL.XNAS": AssetClass.EQUITY},
    )
    limits = RiskLimits(
        max_gross_exposure=Decimal(10_000_000),
        asset_classes={AssetClass.FUTURE: AssetClassLimits(max_gross_exposure=Decimal(1_000_000))},
    )
    order = OrderIntent(
        "S1",
        ES.instrument_id,
        1,
        Decimal(5),
        Decimal(5000),
        unit_value=unit,
        asset_class=AssetClass.FUTURE,
    )
    decision = check_order(order, state, limits=limits)
    assert (decision.action, decision.quantity) == (RiskAction.REDUCE, Decimal(2))
    (breach,) = decision.breaches
    assert (breach.rule, breach.scope) == (RiskRule.MAX_GROSS_EXPOSURE, "asset_class:future")
    assert breach.scope == class_scope(AssetClass.FUTURE)
    assert Decimal(breach.value) == 7 * unit  # the class's gross: the equities are not in it
    equity_order = OrderIntent(
        "S1", "AAPL.XNAS", 1, Decimal(5000), Decimal(100), asset_class=AssetClass.EQUITY
    )
    assert check_order(equity_order, state, limits=limits).action is RiskAction.APPROVE


def test_a_per_class_position_and_leverage_limit() -> None:
    state = book(
        {ES.instrument_id: Decimal(2)},
        unit_values={ES.instrument_id: Decimal(250_000)},
        asset_classes={ES.instrument_id: AssetClass.FUTURE},
    )
    limits = RiskLimits(
        asset_classes={
            AssetClass.FUTURE: AssetClassLimits(max_position=Decimal(3), max_leverage=Decimal(2))
        }
    )
    order = OrderIntent(
        "S1",
        ES.instrument_id,
        1,
        Decimal(5),
        Decimal(5000),
        unit_value=Decimal(250_000),
        asset_class=AssetClass.FUTURE,
    )
    decision = check_order(order, state, limits=limits)
    assert decision.quantity == Decimal(1)  # position 3; leverage 2 allows 8 contracts
    rules = {(b.rule, b.scope) for b in decision.breaches}
    assert rules == {(RiskRule.MAX_POSITION, "asset_class:future")}


def test_asset_class_limits_take_known_classes_only() -> None:
    with pytest.raises(ValidationError):
        RiskLimits.model_validate({"asset_classes": {"bonds": {"max_gross_exposure": 1}}})
    limits = RiskLimits.model_validate({"asset_classes": {"future": {"max_leverage": 3}}})
    assert limits.asset_classes[AssetClass.FUTURE].max_leverage == Decimal(3)
    with pytest.raises(ValidationError):
        AssetClassLimits.model_validate({"max_gross_exposure": 1, "max_daily_loss": 5})


def test_limits_without_per_class_limits_keep_their_document_and_hash() -> None:
    """Stored limit versions and run fingerprints made before per-class limits still match."""
    limits = RiskLimits(max_gross_exposure=Decimal(1000))
    assert "asset_classes" not in limits_document(limits)
    assert limits_hash(limits) == limits_hash(RiskLimits.model_validate(limits_document(limits)))
    with_class = limits.model_copy(
        update={"asset_classes": {AssetClass.FX: AssetClassLimits(max_net_exposure=Decimal(5))}}
    )
    document = limits_document(with_class)
    assert set(document["asset_classes"]) == {"fx"}  # type: ignore[arg-type]
    assert limits_hash(with_class) != limits_hash(limits)
    assert RiskLimits.model_validate(limits_document(with_class)) == with_class


def test_an_event_shows_a_premium_only_when_options_are_traded() -> None:
    plain = RiskEvent(ts_ns=1, kind=RiskEventKind.DENY, scope="portfolio", rule="x", detail="y")
    assert "premium_at_risk" not in plain.model_dump()
    shown = plain.model_copy(update={"premium_at_risk": "3400"})
    assert shown.model_dump()["premium_at_risk"] == "3400"
