"""The README's GBP/USD example on real BID minute bars (../shared/data; skipped without it):
before, 14,419 orders were rejected with "no market" and the run passed as a clean one."""

from decimal import Decimal

import pytest

from quantdesk.domain.backtest_plan import RunPlan
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.market_data import BarIngestOptions, TimestampAt
from quantdesk.services.platform import Platform
from support.environment import shared_file
from support.strategy_runs import ema_specs, raw_plan

GBPUSD = "GBP/USD.SIM"
DAY_NS = 86_400_000_000_000


@pytest.mark.shared_data
def test_gbpusd_bid_bars_trade_with_a_spread_and_are_refused_without(desk: Platform) -> None:
    desk.instruments.add(
        InstrumentSpec(
            instrument_id=GBPUSD,
            asset_class=AssetClass.FX,
            currency="USD",
            base_currency="GBP",
            tick_size=Decimal("0.00001"),
        )
    )
    desk.ingest.ingest_bars(
        shared_file("gbpusd-m1-bid-2012.csv"),
        GBPUSD,
        "1-MINUTE-BID",
        BarIngestOptions(timestamp_at=TimestampAt.OPEN, default_volume=1_000_000),
    )
    (entry,) = desk.catalog.entries()

    def request(**venue: str) -> RunPlan:
        return raw_plan(
            ema_specs([GBPUSD], "1-MINUTE-BID", {}),
            instruments=[GBPUSD],
            bar_spec="1-MINUTE-BID",
            start_ns=entry.first_ts,
            end_ns=entry.first_ts + DAY_NS,
            venues=[{"name": "SIM", **venue}],
            engine={"log_level": "OFF"},
        )

    with pytest.raises(InvalidInputError, match="one side of the market"):
        desk.backtests.run_plan(request())
    result = desk.backtests.run_plan(request(bar_spread="0.00002"))
    assert result.engine_rejections == [] and result.warnings == []
    assert result.facts.orders > 0 and result.facts.fills >= result.facts.orders
    fills = list(desk.backtests.artifacts(result.run_id).fills)
    times, bids = desk.backtests.artifacts(result.run_id).prices[GBPUSD]
    bid_at = dict(zip(times.tolist(), bids.tolist(), strict=True))
    first_parts = {f.order_id: f for f in reversed(fills)}.values()
    for fill in first_parts:  # a buy pays the ask (bid + 2 ticks), a sell gets the bid
        assert fill.price == pytest.approx(bid_at[fill.ts_ns] + (0.00002 if fill.side > 0 else 0))
