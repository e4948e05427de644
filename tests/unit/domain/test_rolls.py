"""Roll rules, chains and the pairing of roll fills (domain/rolls.py); the --roll flag."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from quantdesk.api.schemas.backtest import BacktestCreate
from quantdesk.cli.backtests import roll_flag
from quantdesk.domain.backtest_records import FillRecord
from quantdesk.domain.contract_terms import UnderlyingClass
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.rolls import DAY_NS, RollRule, chain_contracts, check_rolls, rolls_of


def future(instrument_id: str, root: str, expiry: int) -> InstrumentSpec:
    return InstrumentSpec(
        instrument_id=instrument_id,
        asset_class=AssetClass.FUTURE,
        underlying=root,
        underlying_class=UnderlyingClass.INDEX,
        currency="USD",
        tick_size=Decimal("0.25"),
        multiplier=Decimal(50),
        expiration_ns=expiry,
    )


SPECS = [
    future("ESM4.XCME", "ES", 20),
    future("ESH4.XCME", "ES", 10),
    future("NQH4.XCME", "NQ", 10),
]


def test_a_rule_states_its_chain_and_days() -> None:
    rule = RollRule(chain="ES.XCME", days=Decimal("1.5"))
    assert (rule.root, rule.venue, rule.offset_ns) == ("ES", "XCME", DAY_NS * 3 // 2)
    with pytest.raises(ValidationError, match="needs days"):
        RollRule(chain="ES.XCME")
    with pytest.raises(ValidationError, match="takes no days"):
        RollRule(chain="ES.XCME", method="volume", days=1)
    assert [s.instrument_id for s in chain_contracts(rule, SPECS)] == ["ESH4.XCME", "ESM4.XCME"]


def test_a_chain_not_in_the_run_or_twice_is_refused() -> None:
    check_rolls([RollRule(chain="ES.XCME", days=1)], SPECS)
    with pytest.raises(InvalidInputError, match=r"no contract of chain CL\.XCME") as caught:
        check_rolls([RollRule(chain="CL.XCME", days=1)], SPECS)
    assert caught.value.hint == "the run's futures chains: ES.XCME, NQ.XCME"
    with pytest.raises(InvalidInputError, match="two roll rules"):
        check_rolls([RollRule(chain="ES.XCME", days=1), RollRule(chain="ES.XCME", days=2)], SPECS)


def fill(
    ts: int, instrument_id: str, side: int, quantity: float, price: float, kind: str | None
) -> FillRecord:
    return FillRecord(
        ts_ns=ts,
        strategy_id="S-1",
        instrument_id=instrument_id,
        order_id=f"O{ts}{instrument_id}",
        trade_id=f"T{ts}{instrument_id}",
        position_id=f"{instrument_id}-S-1",
        side=side,
        quantity=quantity,
        price=price,
        commission=0.0,
        commission_currency="USD",
        kind=kind,
    )


def test_roll_fills_pair_by_which_contract_they_leave_flat() -> None:
    """In either order, and a leg filled in parts: the close is the one left flat."""
    fills = [
        fill(1, "ESH4.XCME", -1, 3.0, 5000.0, None),
        fill(5, "ESM4.XCME", -1, 1.0, 5021.0, "roll"),  # the open first, in two parts
        fill(5, "ESM4.XCME", -1, 2.0, 5024.0, "roll"),
        fill(5, "ESH4.XCME", 1, 3.0, 5003.0, "roll"),
    ]
    (roll,) = rolls_of(fills)
    assert (roll.from_instrument, roll.to_instrument, roll.quantity) == (
        "ESH4.XCME",
        "ESM4.XCME",
        -3.0,
    )
    assert (roll.close_price, roll.open_price) == (5003.0, 5023.0)
    assert rolls_of(fills[:1]) == []


def test_the_roll_flag() -> None:
    assert roll_flag("ES.XCME:days=5") == {
        "chain": "ES.XCME",
        "method": "days_before_expiry",
        "days": "5",
    }
    assert roll_flag("ES.XCME:volume") == {"chain": "ES.XCME", "method": "volume"}
    with pytest.raises(InvalidInputError, match="is not CHAIN:days=N or CHAIN:volume"):
        roll_flag("ES.XCME")


def test_the_api_request_carries_rolls_and_a_request_without_keeps_its_document() -> None:
    created = BacktestCreate(strategies=["trend@1"], rolls=[{"chain": "ES.XCME", "days": 5}])
    assert created.request().rolls == [RollRule(chain="ES.XCME", days=Decimal(5))]
    plain = BacktestCreate(strategies=["trend@1"]).request()
    assert "rolls" not in plain.model_dump()  # fingerprints of runs without rolls unchanged
