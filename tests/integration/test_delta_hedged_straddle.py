"""The options example strategy on the real engine: a delta-hedged short straddle on the
synthetic chain sells the at-the-money legs of the nearest expiry, hedges with the underlying,
is settled at expiry, and asks the risk gate for every order like any family."""

import json
from pathlib import Path

import pytest

from quantdesk.adapters.nautilus.catalog import ParquetCatalog
from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest import FillRecord
from quantdesk.domain.contract_terms import OptionKind
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.options import greeks, year_fraction
from quantdesk.services.platform import Platform
from quantdesk.services.synthetic import DEFAULT_START_NS, SyntheticMarketConfig
from quantdesk.services.synthetic_options import OptionChainConfig
from support.signals import raw_signal
from support.strategy_runs import family_spec, run_specs

DAY_NS = 86_400_000_000_000
CHAIN = OptionChainConfig(strikes=3, expiry_days=(3, 6), volatility=0.4)
UNDERLYING = "SYN01.SIM"
FORECAST = 1.5  # far from the chain's 0.4: a hedge at it is visibly another quantity


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("straddle") / "home"
    config = SyntheticMarketConfig(
        instruments=1, days=6, seed=3, options_on=(UNDERLYING,), option_chain=CHAIN
    )
    desk = bootstrap(home=home)
    desk.synthetic.synthesize(config)
    forecast = raw_signal(
        signal_type="VOLATILITY_FORECAST",
        instrument_id=UNDERLYING,
        ts_event=DEFAULT_START_NS + 60_000_000_000,
        lag_ns=30_000_000_000,  # known before the second decision, after the first
        value={"annualized_volatility": FORECAST, "horizon_ns": 6 * DAY_NS},
    )
    path = home.parent / "forecast.jsonl"
    path.write_text(json.dumps(forecast) + "\n")
    desk.signals.ingest_file(path)
    return home


@pytest.fixture
def desk(market: Path) -> Platform:
    return bootstrap(home=market)


def options(desk: Platform) -> dict[str, InstrumentSpec]:
    listed = desk.instruments.list()
    return {s.instrument_id: s for s in listed if s.asset_class is AssetClass.OPTION}


def straddle(desk: Platform, **config: object) -> list:
    chain = options(desk)
    spec = family_spec(
        "delta_hedged_straddle",
        "DeltaHedgedStraddle",
        {"underlying_id": UNDERLYING, "option_ids": sorted(chain), "hedge_every_bars": 30} | config,
    )
    return [spec, [UNDERLYING, *sorted(chain)]]


def test_it_sells_the_nearest_atm_straddle_hedges_and_is_settled(desk: Platform) -> None:
    spec, instruments = straddle(desk)
    result = run_specs(desk, [spec], instruments=instruments)
    fills: list[FillRecord] = list(desk.backtests.artifacts(result.run_id).fills)
    chain = options(desk)
    first_ts = fills[0].ts_ns
    opening = [f for f in fills if f.ts_ns == first_ts]
    assert {f.side for f in opening} == {-1}
    legs = [chain[f.instrument_id] for f in opening]
    assert {leg.option_kind for leg in legs} == {OptionKind.CALL, OptionKind.PUT}
    assert len({(leg.strike, leg.expiration_ns) for leg in legs}) == 1  # one strike and expiry
    nearest = min(s.expiration_ns for s in chain.values() if s.expiration_ns)
    assert legs[0].expiration_ns == nearest  # 3 days left >= the 2-day minimum
    catalog = ParquetCatalog(desk.home / "catalog")
    bars = f"{UNDERLYING}-1-MINUTE-LAST-EXTERNAL"
    spot = float(catalog.read_closes(bars, 0, first_ts)[1][-1])
    strikes = sorted({float(s.strike) for s in chain.values() if s.expiration_ns == nearest})
    assert float(legs[0].strike) == min(strikes, key=lambda k: abs(k - spot))
    # both legs are settled at expiry, in cash at their intrinsic value against the
    # underlying's final close (the one out of the money at 0), recorded as settlements
    expiry = legs[0].expiration_ns
    assert expiry is not None
    final = float(catalog.read_closes(bars, 0, expiry)[1][-1])
    for leg in legs:
        (settled,) = [f for f in fills if f.instrument_id == leg.instrument_id and f.side == 1]
        assert (settled.ts_ns, settled.kind) == (expiry, "settlement")
        strike = float(leg.strike or 0)
        call = leg.option_kind is OptionKind.CALL
        assert settled.price == pytest.approx(max(final - strike if call else strike - final, 0))
    assert {f.kind for f in fills if f.ts_ns != expiry and f.instrument_id == UNDERLYING} == {None}
    # hedged: the first hedge trades the underlying against the straddle's delta
    assert_first_hedge(fills, legs, catalog, 0.4)  # the chain's volatility, implied back
    # a second straddle on the later expiry after the first settled
    later = {f.instrument_id for f in fills if f.side == -1 and f.instrument_id in chain} - {
        leg.instrument_id for leg in legs
    }
    last_expiry = max(s.expiration_ns or 0 for s in chain.values())
    assert {chain[i].expiration_ns for i in later} == {last_expiry}


def assert_first_hedge(
    fills: list[FillRecord], legs: list[InstrumentSpec], catalog: ParquetCatalog, sigma: float
) -> None:
    """The first hedge sells (buys) the straddle's delta at ``sigma``, to the share."""
    hedge = next(f for f in fills if f.instrument_id == UNDERLYING)
    assert hedge.ts_ns > fills[0].ts_ns
    s = float(catalog.read_closes(f"{UNDERLYING}-1-MINUTE-LAST-EXTERNAL", 0, hedge.ts_ns)[1][-1])
    book = 0.0
    for leg in legs:
        assert leg.strike is not None and leg.option_kind is not None
        t = year_fraction(hedge.ts_ns, leg.expiration_ns or 0)
        delta = greeks(leg.option_kind, s=s, k=float(leg.strike), t=t, sigma=sigma, r=0, b=0)
        book -= delta.delta * float(leg.multiplier)
    assert hedge.side == (1 if book < 0 else -1)
    assert abs(hedge.quantity - abs(book)) <= 0.02 * abs(book) + 1.0


def test_a_volatility_forecast_sets_the_hedge(desk: Platform) -> None:
    spec, instruments = straddle(desk, signal_types=["VOLATILITY_FORECAST"])
    result = run_specs(desk, [spec], instruments=instruments, signals=["VOLATILITY_FORECAST"])
    fills: list[FillRecord] = list(desk.backtests.artifacts(result.run_id).fills)
    chain = options(desk)
    legs = [chain[f.instrument_id] for f in fills if f.ts_ns == fills[0].ts_ns]
    assert_first_hedge(fills, legs, ParquetCatalog(desk.home / "catalog"), FORECAST)
    plain, _ = straddle(desk)
    implied = list(
        desk.backtests.artifacts(run_specs(desk, [plain], instruments=instruments).run_id).fills
    )
    first = next(f for f in fills if f.instrument_id == UNDERLYING)
    assert first.quantity != next(f for f in implied if f.instrument_id == UNDERLYING).quantity


def test_every_order_asks_the_risk_gate(desk: Platform) -> None:
    spec, instruments = straddle(desk)
    only_underlying = {"limits": {"allowed_instruments": [UNDERLYING]}}
    result = run_specs(desk, [spec], instruments=instruments, risk=only_underlying)
    fills = list(desk.backtests.artifacts(result.run_id).fills)
    assert not [f for f in fills if f.instrument_id != UNDERLYING]
    assert result.risk_counts.get("instrument_not_allowed", 0) >= 2
