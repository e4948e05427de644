"""The pure rules of dated contracts: trading window, fill kinds, intrinsic value, run range."""

from decimal import Decimal

import pytest

from quantdesk.domain.backtest_records import FillRecord, PositionRecord
from quantdesk.domain.contract_terms import OptionKind, UnderlyingClass
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.expiry import (
    ROLL_TAG,
    SETTLEMENT_TAG,
    FillKind,
    check_run_window,
    fill_kind,
    settlements_of,
    window_breach,
)
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.options import intrinsic_value
from quantdesk.domain.risk import RiskRule

ACTIVE, EXPIRY = 1_000, 5_000


def es() -> InstrumentSpec:
    return InstrumentSpec(
        instrument_id="ESH4.XCME",
        asset_class=AssetClass.FUTURE,
        underlying="ES",
        underlying_class=UnderlyingClass.INDEX,
        currency="USD",
        tick_size=Decimal("0.25"),
        multiplier=Decimal(50),
        activation_ns=ACTIVE,
        expiration_ns=EXPIRY,
    )


def test_the_window_includes_both_ends() -> None:
    assert window_breach(ACTIVE, ACTIVE, EXPIRY) is None
    assert window_breach(EXPIRY, ACTIVE, EXPIRY) is None
    before = window_breach(ACTIVE - 1, ACTIVE, EXPIRY)
    after = window_breach(EXPIRY + 1, ACTIVE, EXPIRY)
    assert before is not None and before[0] is RiskRule.INSTRUMENT_NOT_ACTIVE
    assert after is not None and after[0] is RiskRule.INSTRUMENT_EXPIRED
    assert after[1] == "expired at 1970-01-01 00:00:00.000005 UTC"


def test_fill_kinds_from_order_tags() -> None:
    assert fill_kind(None) is None
    assert fill_kind(["quantdesk-signal:abc"]) is None
    assert fill_kind([SETTLEMENT_TAG]) is FillKind.SETTLEMENT
    assert fill_kind(["EXPIRATION_XCME_CLOSE"]) is FillKind.SETTLEMENT  # the engine's own
    assert fill_kind([ROLL_TAG]) is FillKind.ROLL


@pytest.mark.parametrize(
    ("kind", "strike", "underlying", "value"),
    [
        (OptionKind.CALL, 100.0, 110.0, 10.0),
        (OptionKind.CALL, 100.0, 90.0, 0.0),
        (OptionKind.PUT, 100.0, 90.0, 10.0),
        (OptionKind.PUT, 100.0, 110.0, 0.0),
        (OptionKind.CALL, 100.0, 100.0, 0.0),
    ],
)
def test_intrinsic_value(kind: OptionKind, strike: float, underlying: float, value: float) -> None:
    assert intrinsic_value(kind, underlying, strike) == value  # the settlement's own rule


def test_a_range_the_contract_cannot_trade_is_refused() -> None:
    check_run_window(es(), 0, ACTIVE, ())  # touches the window: fine
    check_run_window(es(), EXPIRY, EXPIRY + 10, ())
    with pytest.raises(InvalidInputError, match=r"ESH4\.XCME expired at .* before the run"):
        check_run_window(es(), EXPIRY + 1, EXPIRY + 10, ())
    with pytest.raises(InvalidInputError, match=r"not active until .* after the run"):
        check_run_window(es(), 0, ACTIVE - 1, ())


def test_settlements_name_the_round_trip_they_closed() -> None:
    def fill(ts: int, side: int, price: float, kind: str | None) -> FillRecord:
        return FillRecord(
            ts_ns=ts,
            strategy_id="S-1",
            instrument_id="ESH4.XCME",
            order_id=f"O{ts}",
            trade_id=f"T{ts}",
            position_id="P-1",
            side=side,
            quantity=2.0,
            price=price,
            commission=0.0,
            commission_currency="USD",
            kind=kind,
        )

    fills = [fill(1_000, 1, 5000.0, None), fill(EXPIRY, -1, 5015.0, "settlement")]
    positions = [
        PositionRecord(
            "S-1", "ESH4.XCME", "P-1", 1, 2.0, 1_000, EXPIRY, 5000.0, 5015.0, 1500.0, 0.0
        )
    ]
    (settlement,) = settlements_of(fills, positions)
    assert (settlement.quantity, settlement.price, settlement.pnl) == (2.0, 5015.0, 1500.0)
    assert settlements_of(fills[:1], positions) == []
