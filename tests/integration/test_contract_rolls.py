"""Rolling a family strategy's position along a chain of futures in real engine runs: the
roll trades come at the stated time, the position carries over, and the chain's PnL is the
sum of its contracts' PnL, each price change x multiplier x quantity."""

from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from quantdesk.bootstrap import bootstrap
from quantdesk.cli.backtest_render import rolls_table
from quantdesk.domain.backtest import BacktestResult, StrategySpec
from quantdesk.domain.contract_terms import UnderlyingClass
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.services.backtests import RunArtifacts
from quantdesk.services.platform import Platform
from support.bars import T0, iso
from support.plugin_desk import check_each_plugin_set_once, plugin_settings
from support.scripted_trades import SCRIPTED
from support.strategy_runs import family_spec, raw_plan

HOUR_NS = 3_600_000_000_000
HOURS = 120
FRONT, NEXT = "ESH4.XCME", "ESM4.XCME"
FRONT_EXPIRY = T0 + 72 * HOUR_NS
BAR = "1-HOUR-LAST"


def price(instrument_id: str, hour: int) -> int:
    return (5000 if instrument_id == FRONT else 5020) + hour  # the next contract 20 above


def volume(instrument_id: str, hour: int) -> int:
    if instrument_id == FRONT:
        return 1000
    return 500 if hour < 24 else 2000  # the next contract trades more from day 1 (hour 24) on


def contract(instrument_id: str, expiry: int) -> InstrumentSpec:
    return InstrumentSpec(
        instrument_id=instrument_id,
        asset_class=AssetClass.FUTURE,
        underlying="ES",
        underlying_class=UnderlyingClass.INDEX,
        currency="USD",
        tick_size=Decimal("0.25"),
        multiplier=Decimal(50),
        activation_ns=T0 - 24 * HOUR_NS,
        expiration_ns=expiry,
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("chain")
    home = folder / "home"
    desk = bootstrap(plugin_settings(home))
    for instrument_id, expiry in ((FRONT, FRONT_EXPIRY), (NEXT, T0 + 240 * HOUR_NS)):
        desk.instruments.add(contract(instrument_id, expiry))
        path = folder / f"{instrument_id}.csv"
        lines = ["timestamp,open,high,low,close,volume"]
        for hour in range(HOURS):
            p = price(instrument_id, hour)
            lines.append(
                f"{iso(T0 + hour * HOUR_NS)},{p},{p},{p},{p},{volume(instrument_id, hour)}"
            )
        path.write_text("\n".join(lines) + "\n")
        desk.ingest.ingest_bars(path, instrument_id, BAR)
    return home


@pytest.fixture
def desk(home: Path, monkeypatch: pytest.MonkeyPatch) -> Platform:
    check_each_plugin_set_once(monkeypatch)
    return bootstrap(plugin_settings(home))


def run(
    desk: Platform, orders: list[tuple[int, str]], rolls: list[dict[str, object]]
) -> tuple[BacktestResult, RunArtifacts]:
    spec = StrategySpec(
        strategy_path=f"{SCRIPTED}:ScriptedFamily",
        config_path=f"{SCRIPTED}:ScriptedFamilyConfig",
        config={
            "instrument_ids": [FRONT, NEXT],
            "bar_spec": BAR,
            "orders": [[str(T0 + h * HOUR_NS), FRONT, q] for h, q in orders],
        },
    )
    plan = raw_plan(
        [spec],
        instruments=[FRONT, NEXT],
        bar_spec=BAR,
        venues=[{"name": "XCME", "starting_balance": 10_000_000}],
        engine={"log_level": "OFF"},
        rolls=rolls,
    )
    result = desk.backtests.run_plan(plan)
    return result, desk.backtests.artifacts(result.run_id)


MINUTE_NS = 60_000_000_000
MIDNIGHT_DAY_2 = T0 + 48 * HOUR_NS - MINUTE_NS  # T0 is 00:01


@pytest.mark.parametrize(
    ("rule", "roll_at"),
    [
        ({"chain": "ES.XCME", "days": 2}, T0 + 24 * HOUR_NS),  # the front expires at hour 72
        ({"chain": "ES.XCME", "days": "0.5"}, T0 + 60 * HOUR_NS),
        ({"chain": "ES.XCME", "method": "volume"}, MIDNIGHT_DAY_2),  # day 1 out-traded
    ],
)
def test_a_long_position_rolls_to_the_next_contract(
    desk: Platform, rule: dict[str, object], roll_at: int
) -> None:
    """Long 2 from hour 5, rolled at the rule's instant, closed at hour 100: the roll's two
    trades at that instant at both contracts' last closes, the position carried, the chain's
    PnL the contracts' sum."""
    result, artifacts = run(desk, [(5, "2"), (100, "-2")], [rule])
    fills = [(f.ts_ns, f.instrument_id, f.side * f.quantity, f.kind) for f in artifacts.fills]
    assert fills == [
        (T0 + 5 * HOUR_NS, FRONT, 2.0, None),
        (roll_at, FRONT, -2.0, "roll"),
        (roll_at, NEXT, 2.0, "roll"),
        (T0 + 100 * HOUR_NS, NEXT, -2.0, None),
    ]
    (roll,) = result.rolls
    assert (roll.ts_ns, roll.from_instrument, roll.to_instrument, roll.quantity) == (
        roll_at,
        FRONT,
        NEXT,
        2.0,
    )
    by_contract = {p.instrument_id: p for p in artifacts.positions}
    entry, roll_out, roll_in, exit_ = (f.price for f in artifacts.fills)
    assert by_contract[FRONT].realized_pnl == (roll_out - entry) * 50 * 2
    assert by_contract[NEXT].realized_pnl == (exit_ - roll_in) * 50 * 2
    assert exit_ == price(NEXT, 100) and entry == price(FRONT, 5)
    last_hour = (roll_at - T0) // HOUR_NS  # the bars at or before the roll instant
    assert (roll_out, roll_in) == (price(FRONT, last_hour), price(NEXT, last_hour))
    chain = sum(p.realized_pnl for p in artifacts.positions)
    assert result.metrics.pnl == pytest.approx(chain, rel=1e-12)
    assert result.settlements == []  # rolled before the front expired


def test_without_a_roll_the_front_settles_and_nothing_carries(desk: Platform) -> None:
    result, artifacts = run(desk, [(5, "2")], [])
    assert [f.kind for f in artifacts.fills] == [None, "settlement"]
    assert result.rolls == []
    (settlement,) = result.settlements
    assert settlement.ts_ns == FRONT_EXPIRY


def test_a_roll_of_a_chain_not_in_the_run_is_refused(desk: Platform) -> None:
    with pytest.raises(InvalidInputError, match=r"no contract of chain NQ\.XCME in the run"):
        run(desk, [(5, "2")], [{"chain": "NQ.XCME", "days": 1}])


def test_a_short_position_rolls_short(desk: Platform) -> None:
    result, artifacts = run(desk, [(5, "-3")], [{"chain": "ES.XCME", "days": 2}])
    (roll,) = result.rolls
    assert (roll.quantity, roll.from_instrument, roll.to_instrument) == (-3.0, FRONT, NEXT)
    assert [(f.instrument_id, f.side, f.kind) for f in artifacts.fills] == [
        (FRONT, -1, None),
        (FRONT, 1, "roll"),
        (NEXT, -1, "roll"),
    ]
    assert roll.close_price - roll.open_price == pytest.approx(-20.0)  # the calendar spread


def test_rolls_are_shown_in_the_cli_and_the_report(desk: Platform) -> None:
    result, _ = run(desk, [(5, "2")], [{"chain": "ES.XCME", "days": 2}])
    console = Console(record=True, width=200)
    console.print(rolls_table(result))
    text = console.export_text()
    assert "ESH4.XCME" in text and "ESM4.XCME" in text and "+2" in text
    report = desk.backtests.report_file(result.run_id).read_text()
    assert "<h2>Rolled</h2>" in report
    assert "ES.XCME: 2 day(s) before the active contract&#x27;s expiration" in report
    assert result.request.rolls[0].chain == "ES.XCME"  # the rule is kept with the run


def test_a_family_strategy_trades_the_chain_as_one_instrument(desk: Platform) -> None:
    """trend_following on the chain (its fills kept per instrument: a fill in the next
    contract counts for the chain's one instrument), long on the rising prices: rolled once,
    flat at the end, its PnL the sum of each contract's round trips."""
    spec = family_spec(
        "trend_following",
        "TrendFollowing",
        {
            "instrument_ids": [FRONT, NEXT],
            "bar_spec": BAR,
            "fast_period": 2,
            "slow_period": 4,
            "trade_size": "1",
            "flat_at_stop": True,
        },
    )
    plan = raw_plan(
        [spec],
        instruments=[FRONT, NEXT],
        bar_spec=BAR,
        venues=[{"name": "XCME"}],
        engine={"log_level": "OFF"},
        rolls=[{"chain": "ES.XCME", "days": 2}],
    )
    result = desk.backtests.run_plan(plan)
    artifacts = desk.backtests.artifacts(result.run_id)
    (roll,) = result.rolls
    assert (roll.ts_ns, roll.quantity) == (T0 + 24 * HOUR_NS, 1.0)
    held: dict[str, float] = {}
    for f in artifacts.fills:
        held[f.instrument_id] = held.get(f.instrument_id, 0.0) + f.side * f.quantity
    assert held == {FRONT: 0.0, NEXT: 0.0}
    assert result.engine_rejections == []  # closed once at stop, not once more per contract
    assert {p.instrument_id for p in artifacts.positions} == {FRONT, NEXT}
    chain = sum(p.realized_pnl for p in artifacts.positions)
    assert result.metrics.pnl == pytest.approx(chain, rel=1e-12)
