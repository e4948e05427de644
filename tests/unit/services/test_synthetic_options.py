"""The synthetic options chain: contracts on the grid asked for, bars priced consistently from
the underlying (parity up to the tick, the chain's volatility implied back), deterministic."""

import itertools
import math
from decimal import Decimal

import numpy as np
import pytest

from quantdesk.domain.contract_terms import OptionKind
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.instruments import AssetClass
from quantdesk.domain.options import implied_volatility, year_fraction
from quantdesk.services.synthetic import SyntheticMarketConfig, generate_market
from quantdesk.services.synthetic_options import OptionChainConfig, option_chain

DAY_NS = 86_400_000_000_000
CHAIN = OptionChainConfig(strikes=3, expiry_days=(1, 2), volatility=0.35)


@pytest.fixture(scope="module")
def market() -> tuple[object, object]:
    (series,) = generate_market(SyntheticMarketConfig(instruments=1, days=2, seed=11))
    return series.instrument, series.bars


def test_the_chain_lists_every_strike_and_expiry_call_and_put(market: tuple) -> None:
    underlying, bars = market
    chain = option_chain(underlying, bars, CHAIN)
    assert len(chain) == 2 * 3 * 2
    specs = [c.instrument for c in chain]
    assert {s.asset_class for s in specs} == {AssetClass.OPTION}
    assert {s.underlying for s in specs} == {underlying.instrument_id}
    start = int(bars.ts_ns[0]) - 60_000_000_000
    assert sorted({s.expiration_ns for s in specs}) == [start + DAY_NS, start + 2 * DAY_NS]
    strikes = sorted({s.strike for s in specs})
    spot = float(bars.open[0])
    step = max(1, round(spot * CHAIN.strike_step_pct))
    assert [b - a for a, b in itertools.pairwise(strikes)] == [step, step]
    assert abs(float(strikes[1]) - spot) <= step / 2 + 1e-9
    assert len({s.instrument_id for s in specs}) == len(specs)


def test_bars_end_at_expiry_and_follow_the_underlying(market: tuple) -> None:
    underlying, bars = market
    for series in option_chain(underlying, bars, CHAIN):
        spec = series.instrument
        assert int(series.bars.ts_ns[-1]) == spec.expiration_ns
        n = len(series.bars)
        assert np.array_equal(series.bars.ts_ns, bars.ts_ns[:n])
        assert (series.bars.low <= series.bars.open).all()
        assert (series.bars.high >= series.bars.close).all()
        assert (series.bars.low >= 0.01).all()
        # at expiry the close is the intrinsic value (or one tick)
        s, k = float(bars.close[n - 1]), float(spec.strike)
        intrinsic = max(s - k, 0.0) if spec.option_kind is OptionKind.CALL else max(k - s, 0.0)
        assert series.bars.close[-1] == pytest.approx(max(round(intrinsic, 2), 0.01), abs=0.006)


def test_calls_and_puts_keep_parity_to_the_tick(market: tuple) -> None:
    underlying, bars = market
    chain = {
        (c.instrument.strike, c.instrument.expiration_ns, c.instrument.option_kind): c
        for c in option_chain(underlying, bars, CHAIN)
    }
    checked = 0
    for (strike, expiry, kind), call in chain.items():
        if kind is not OptionKind.CALL:
            continue
        put = chain[(strike, expiry, OptionKind.PUT)]
        n = len(call.bars)
        forward_gap = bars.close[:n] - float(strike)  # r = 0: C - P = S - K
        gap = call.bars.close - put.bars.close - forward_gap
        priced = (call.bars.close > 0.01) & (put.bars.close > 0.01)  # neither at the floor
        checked += int(priced.sum())
        assert (np.abs(gap[priced]) <= 0.01 + 1e-9).all()
    assert checked > len(bars)  # the at-the-money pairs at least


def test_the_chain_volatility_is_implied_back(market: tuple) -> None:
    underlying, bars = market
    for series in option_chain(underlying, bars, CHAIN):
        spec = series.instrument
        assert spec.expiration_ns is not None and spec.option_kind is not None
        i = len(series.bars) // 2  # mid-life: plenty of time value above the tick
        t = year_fraction(int(series.bars.ts_ns[i]), spec.expiration_ns)
        premium, spot = float(series.bars.close[i]), float(bars.close[i])
        strike = float(spec.strike)
        call = spec.option_kind is OptionKind.CALL
        intrinsic = max(spot - strike, 0) if call else max(strike - spot, 0)
        if premium - intrinsic < 0.5:
            continue  # a few ticks of time value pin the volatility down too loosely
        vol = implied_volatility(premium, spec.option_kind, s=spot, k=strike, t=t, r=0, b=0)
        assert math.isclose(vol, CHAIN.volatility, rel_tol=0.02)


def test_same_inputs_same_bars(market: tuple) -> None:
    underlying, bars = market
    first = option_chain(underlying, bars, CHAIN)
    second = option_chain(underlying, bars, CHAIN)
    for a, b in zip(first, second, strict=True):
        assert a.instrument == b.instrument
        for field in ("open", "high", "low", "close", "volume"):
            assert np.array_equal(a.bars.field(field), b.bars.field(field))


def test_an_expiry_beyond_the_bars_is_refused(market: tuple) -> None:
    underlying, bars = market
    with pytest.raises(InvalidInputError, match="not a bar close"):
        option_chain(underlying, bars, OptionChainConfig(expiry_days=(3,)))
    with pytest.raises(InvalidInputError, match="outlives"):
        SyntheticMarketConfig(days=2, options_on=("SYN01.SIM",))
    with pytest.raises(InvalidInputError, match="not an instrument of this synthetic market"):
        SyntheticMarketConfig(days=20, options_on=("SYN09.SIM",))
    with pytest.raises(InvalidInputError, match="strikes"):
        OptionChainConfig(strikes=0)
    assert OptionChainConfig().tick_size == Decimal("0.01")
