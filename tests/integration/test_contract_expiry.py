"""Dated contracts in real engine runs: the gate denies orders outside a contract's window,
positions open at expiry settle at the final price (futures at the last close, options at
their intrinsic value), and every figure is checked against prices computed here by hand."""

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from rich.console import Console

from quantdesk.bootstrap import bootstrap
from quantdesk.cli.backtest_render import settlements_table
from quantdesk.domain.backtest import BacktestResult, StrategySpec
from quantdesk.domain.contract_terms import OptionKind, UnderlyingClass
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.services.backtests import RunArtifacts
from quantdesk.services.platform import Platform
from support.bars import MINUTE_NS, T0, iso
from support.plugin_desk import check_each_plugin_set_once, plugin_settings
from support.scripted_trades import SCRIPTED
from support.strategy_runs import raw_plan

MINUTES = 60
ES_EXPIRY = T0 + 30 * MINUTE_NS  # a bar closes at the instant
NQ_EXPIRY = T0 + 30 * MINUTE_NS  # its bars end at minute 25: settled by the clock
OPTION_EXPIRY = T0 + 40 * MINUTE_NS
VENUES = [
    {"name": "XCME", "starting_balance": 10_000_000},
    {"name": "XNAS", "starting_balance": 10_000_000},
]


def es_price(i: int) -> Decimal:
    return Decimal(5000) + Decimal(i) / 2  # 5000 at minute 0, 5010 at 20, 5015 at expiry


def nq_price(i: int) -> Decimal:
    return Decimal(18_000 + i)


def xyz_price(i: int) -> Decimal:
    return Decimal(100) + Decimal(i) / 4  # 110 at the options' expiry (minute 40)


def future(instrument_id: str, root: str, multiplier: int, expiry: int) -> InstrumentSpec:
    return InstrumentSpec(
        instrument_id=instrument_id,
        asset_class=AssetClass.FUTURE,
        underlying=root,
        underlying_class=UnderlyingClass.INDEX,
        currency="USD",
        tick_size=Decimal("0.25"),
        multiplier=Decimal(multiplier),
        activation_ns=T0 + 2 * MINUTE_NS,
        expiration_ns=expiry,
    )


def option(instrument_id: str, kind: OptionKind) -> InstrumentSpec:
    return InstrumentSpec(
        instrument_id=instrument_id,
        asset_class=AssetClass.OPTION,
        underlying="XYZ.XNAS",
        option_kind=kind,
        strike=Decimal(100),
        currency="USD",
        tick_size=Decimal("0.01"),
        multiplier=Decimal(100),
        expiration_ns=OPTION_EXPIRY,
    )


CALL = "XYZ240101C00100000.XNAS"
PUT = "XYZ240101P00100000.XNAS"
PREMIUM = {CALL: Decimal("5.00"), PUT: Decimal("1.00")}


def write_bars(desk: Platform, folder: Path, instrument_id: str, prices: list[Decimal]) -> None:
    path = folder / f"{instrument_id.replace('/', '_')}.csv"
    lines = ["timestamp,open,high,low,close,volume"]
    for i, price in enumerate(prices):
        lines.append(f"{iso(T0 + i * MINUTE_NS)},{price},{price},{price},{price},1000")
    path.write_text("\n".join(lines) + "\n")
    desk.ingest.ingest_bars(path, instrument_id, "1-MINUTE-LAST")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("contracts")
    home = folder / "home"
    desk = bootstrap(plugin_settings(home))
    desk.instruments.add(future("ESH4.XCME", "ES", 50, ES_EXPIRY))
    desk.instruments.add(future("NQH4.XCME", "NQ", 20, NQ_EXPIRY))
    desk.instruments.add(
        InstrumentSpec(
            instrument_id="XYZ.XNAS",
            asset_class=AssetClass.EQUITY,
            currency="USD",
            tick_size=Decimal("0.01"),
        )
    )
    desk.instruments.add(option(CALL, OptionKind.CALL))
    desk.instruments.add(option(PUT, OptionKind.PUT))
    write_bars(desk, folder, "ESH4.XCME", [es_price(i) for i in range(MINUTES)])
    write_bars(desk, folder, "NQH4.XCME", [nq_price(i) for i in range(26)])
    write_bars(desk, folder, "XYZ.XNAS", [xyz_price(i) for i in range(MINUTES)])
    for instrument_id, premium in PREMIUM.items():
        write_bars(desk, folder, instrument_id, [premium] * MINUTES)
    return home


@pytest.fixture
def desk(home: Path, monkeypatch: pytest.MonkeyPatch) -> Platform:
    check_each_plugin_set_once(monkeypatch)
    return bootstrap(plugin_settings(home))


def at(minute: int) -> str:
    return str(T0 + minute * MINUTE_NS)


def run(
    desk: Platform,
    instruments: Sequence[str],
    orders: Sequence[tuple[int, str, str]],
    **fields: object,
) -> tuple[BacktestResult, RunArtifacts]:
    spec = StrategySpec(
        strategy_path=f"{SCRIPTED}:Scripted",
        config_path=f"{SCRIPTED}:ScriptedConfig",
        config={
            "bar_types": [f"{i}-1-MINUTE-LAST-EXTERNAL" for i in instruments],
            "orders": [[at(m), i, q] for m, i, q in orders],
        },
    )
    plan = raw_plan(
        [spec],
        instruments=instruments,
        venues=VENUES,
        engine={"log_level": "OFF"},
        **fields,
    )
    result = desk.backtests.run_plan(plan)
    return result, desk.backtests.artifacts(result.run_id)


def test_futures_pnl_is_price_change_times_multiplier_times_quantity(desk: Platform) -> None:
    """Long 2 ES from 5000 to 5010: 10 points x 50 USD x 2 = 1,000 USD, by the engine's
    positions and by the fills themselves."""
    result, artifacts = run(desk, ["ESH4.XCME"], [(2, "ESH4.XCME", "2"), (22, "ESH4.XCME", "-2")])
    buy, sell = artifacts.fills
    assert (buy.price, sell.price) == (float(es_price(2)), float(es_price(22)))
    assert (buy.kind, sell.kind) == (None, None)
    (position,) = artifacts.positions
    assert position.realized_pnl == 1_000.0
    assert (sell.price - buy.price) * 50 * buy.quantity == 1_000.0
    assert result.metrics.pnl == pytest.approx(1_000.0, rel=1e-12)  # the equity curve too
    assert result.settlements == []


def test_a_future_held_to_expiry_settles_at_the_final_price(desk: Platform) -> None:
    """Long 2 from 5000 and short 3 in another run: each settles at the close of the bar at
    the expiration (5015), at the same formula, listed as settlements."""
    result, artifacts = run(desk, ["ESH4.XCME"], [(2, "ESH4.XCME", "2")])
    _, settle = artifacts.fills
    assert settle.kind == "settlement"
    assert (settle.ts_ns, settle.price, settle.side, settle.quantity) == (
        ES_EXPIRY,
        float(es_price(30)),
        -1,
        2.0,
    )
    expected = float((es_price(30) - es_price(2)) * 50 * 2)
    (position,) = artifacts.positions
    assert position.realized_pnl == expected == 1_400.0
    assert result.metrics.pnl == pytest.approx(expected, rel=1e-12)
    (settlement,) = result.settlements
    assert settlement.model_dump() == {
        "strategy_id": "Scripted-000",
        "instrument_id": "ESH4.XCME",
        "ts_ns": ES_EXPIRY,
        "price": 5015.0,
        "quantity": 2.0,
        "pnl": expected,
    }
    short, _ = run(desk, ["ESH4.XCME"], [(10, "ESH4.XCME", "-3")])
    (settled,) = short.settlements
    assert (settled.quantity, settled.pnl) == (-3.0, float((es_price(10) - es_price(30)) * 150))


ACTIVE, EXPIRED = "2024-01-01 00:03:00 UTC", "2024-01-01 00:31:00 UTC"


def test_an_order_after_expiry_or_before_activation_is_denied_with_the_reason(
    desk: Platform,
) -> None:
    result, artifacts = run(
        desk,
        ["ESH4.XCME"],
        [(1, "ESH4.XCME", "1"), (5, "ESH4.XCME", "1"), (31, "ESH4.XCME", "1")],
    )
    denied = [(e.ts_ns, e.rule, e.detail) for e in result.risk_events if e.kind == "deny"]
    assert denied == [
        (
            T0 + MINUTE_NS,
            "instrument_not_active",
            "ESH4.XCME not active until 2024-01-01 00:03:00 UTC",
        ),
        (T0 + 31 * MINUTE_NS, "instrument_expired", "ESH4.XCME expired at 2024-01-01 00:31:00 UTC"),
    ]
    assert result.risk_counts == {"instrument_expired": 1, "instrument_not_active": 1}
    assert result.engine_rejections == []  # the gate said no first, with the reason
    assert [f.kind for f in artifacts.fills] == [None, "settlement"]


def test_a_run_wholly_after_expiry_is_refused_before_it_runs(desk: Platform) -> None:
    with pytest.raises(InvalidInputError) as caught:
        run(desk, ["ESH4.XCME"], [], start_ns=ES_EXPIRY + MINUTE_NS)
    assert "ESH4.XCME expired at 2024-01-01 00:31:00 UTC, before the run's range" in str(
        caught.value
    )


def test_a_contract_whose_data_ends_before_expiry_settles_at_its_last_close(
    desk: Platform,
) -> None:
    """NQ's bars end at minute 25; the run goes on with ES's: the position settles at the
    expiration instant at NQ's last close."""
    result, artifacts = run(desk, ["ESH4.XCME", "NQH4.XCME"], [(5, "NQH4.XCME", "1")])
    (settlement,) = result.settlements
    assert (settlement.instrument_id, settlement.ts_ns, settlement.price) == (
        "NQH4.XCME",
        NQ_EXPIRY,
        float(nq_price(25)),
    )
    assert settlement.pnl == float((nq_price(25) - nq_price(5)) * 20) == 400.0
    assert [f.kind for f in artifacts.fills] == [None, "settlement"]


def test_an_option_held_to_expiry_pays_its_intrinsic_value(desk: Platform) -> None:
    """A call struck 100 with the underlying at 110 at expiry, multiplier 100, one contract
    bought at 5.00: 10 x 100 = 1,000 less the 500 premium. The put struck 100 expires
    worthless: its 100 premium is lost."""
    result, artifacts = run(desk, ["XYZ.XNAS", CALL, PUT], [(3, CALL, "1"), (3, PUT, "1")])
    assert xyz_price(40) == 110
    by_instrument = {s.instrument_id: s for s in result.settlements}
    call, put = by_instrument[CALL], by_instrument[PUT]
    assert (call.ts_ns, call.price, call.quantity) == (OPTION_EXPIRY, 10.0, 1.0)
    assert call.pnl == 1_000.0 - 500.0
    assert (put.ts_ns, put.price, put.quantity) == (OPTION_EXPIRY, 0.0, 1.0)
    assert put.pnl == -100.0
    assert sorted(p.realized_pnl for p in artifacts.positions) == [-100.0, 500.0]


def test_an_option_expiring_in_the_run_needs_its_underlying(desk: Platform) -> None:
    with pytest.raises(InvalidInputError, match=r"its underlying XYZ\.XNAS is not in the run"):
        run(desk, [CALL], [(3, CALL, "1")])
    result, _ = run(desk, [CALL], [(3, CALL, "1")], end_ns=OPTION_EXPIRY - MINUTE_NS)
    assert result.settlements == []  # ends before the expiry: nothing to settle


def test_settlements_are_shown_and_stored_fills_keep_their_kind(desk: Platform) -> None:
    """The CLI table and the HTML report list the settlement; the fills Parquet file holds
    the kind, and a file written before fills had one reads as the strategy's own fills."""
    result, _ = run(desk, ["ESH4.XCME"], [(2, "ESH4.XCME", "2")])
    console = Console(record=True, width=200)
    console.print(settlements_table(result))
    text = console.export_text()
    assert "ESH4.XCME" in text and "2024-01-01 00:31:00" in text and "1,400.00" in text
    report = desk.backtests.report_file(result.run_id).read_text()
    assert "Settled at expiry" in report and "1,400.00" in report
    fills_file = desk.backtests.report_file(result.run_id).parent / "fills.parquet"
    table = pq.read_table(fills_file)
    assert table.column("kind").to_pylist() == [None, "settlement"]
    pq.write_table(table.drop(["kind"]), fills_file)  # as an older quantdesk wrote it
    old = desk.backtests.artifacts(result.run_id).fills
    assert [f.kind for f in old] == [None, None]
    assert [f.price for f in old] == [float(es_price(2)), float(es_price(30))]
