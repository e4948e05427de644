"""Rate discovery on a catalog held in memory: either direction, the preferences in order,
and the refusals before a run (a missing rate, a cash account, several base currencies)."""

from decimal import Decimal
from typing import Any

import pytest

from quantdesk.domain.backtest import BacktestRequest, StrategySpec
from quantdesk.domain.backtest_plan import PlannedStrategy, RunPlan
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.market_data import CatalogEntry
from quantdesk.domain.risk import RiskConfig
from quantdesk.services.fx_rates import find_rates

MINUTE = 60_000_000_000
T0, T1 = 100 * MINUTE, 200 * MINUTE


class Catalog:
    """The three calls discovery makes, over series given as (first, last) bar times."""

    def __init__(self, specs: list[InstrumentSpec], series: dict[str, tuple[int, int]]) -> None:
        self._specs = specs
        self._series = series

    def instruments(self) -> list[InstrumentSpec]:
        return list(self._specs)

    def entries(self) -> list[CatalogEntry]:
        return [
            CatalogEntry(
                data_type="bar",
                identifier=b,
                instrument_id=b.rsplit("-", 4)[0],
                first_ts=first,
                last_ts=last,
                count=(last - first) // MINUTE + 1,
                files=1,
            )
            for b, (first, last) in self._series.items()
        ]

    def bar_span(self, bar_type: str, start: int, end: int) -> tuple[int, int, int]:
        first, last = self._series[bar_type]
        first, last = max(first, start), min(last, end)
        return ((last - first) // MINUTE + 1, first, last) if first <= last else (0, 0, 0)


def fx(instrument_id: str) -> InstrumentSpec:
    base, quote = instrument_id.split(".")[0].split("/")
    return InstrumentSpec(
        instrument_id=instrument_id,
        asset_class=AssetClass.FX,
        currency=quote,
        base_currency=base,
        tick_size=Decimal("0.001"),
    )


TOYOTA = InstrumentSpec(
    instrument_id="7203.XTKS", asset_class=AssetClass.EQUITY, currency="JPY", tick_size=Decimal(1)
)
ACME = InstrumentSpec(
    instrument_id="ACME.XNAS", asset_class=AssetClass.EQUITY, currency="USD", tick_size=Decimal(1)
)


def bars(instrument_id: str, spec: str = "1-MINUTE-MID") -> str:
    return f"{instrument_id}-{spec}-EXTERNAL"


def plan(
    instruments: list[str], venues: list[dict[str, Any]] | None = None, spec: str = "1-MINUTE-LAST"
) -> RunPlan:
    strategy = PlannedStrategy(
        ref="s",
        content_hash="",
        nautilus_id="S-1",
        family="raw",
        spec=StrategySpec(strategy_path="m:S", config_path="m:C", config={}),
        instruments=tuple(instruments),
        bar_types=tuple(bars(i, spec) for i in instruments),
    )
    names = sorted({i.rsplit(".", 1)[1] for i in instruments})
    request = BacktestRequest.model_validate(
        {
            "strategies": ["s"],
            "start_ns": T0,
            "end_ns": T1,
            "venues": venues if venues is not None else [{"name": n} for n in names],
        }
    )
    return RunPlan(request=request, strategies=(strategy,), risk=RiskConfig())


def catalog(*pairs: str, **series: tuple[int, int]) -> Catalog:
    """Toyota's and ACME's LAST bars over the run, plus the named pair bar types."""
    held = {
        bars("7203.XTKS", "1-MINUTE-LAST"): (0, T1),
        bars("ACME.XNAS", "1-MINUTE-LAST"): (0, T1),
    }
    held |= {b: (0, T1) for b in pairs}
    held |= {b.replace("_", "/"): span for b, span in series.items()}
    specs = [TOYOTA, ACME] + [fx(p.rsplit("-", 4)[0]) for p in held if "/" in p]
    unique = {s.instrument_id: s for s in specs}
    return Catalog(list(unique.values()), held)


def found(run: RunPlan, held: Catalog) -> list[tuple[str, bool, tuple[str, ...]]]:
    specs = {s.instrument_id: s for s in held.instruments()}
    return [(r.bar_type, r.inverted, r.instruments) for r in find_rates(run, held, specs)]


def test_instruments_in_the_base_currency_need_no_rate() -> None:
    assert found(plan(["ACME.XNAS"]), catalog()) == []


def test_either_direction_the_other_inverted() -> None:
    usdjpy, jpyusd = bars("USD/JPY.SIM"), bars("JPY/USD.SIM")
    assert found(plan(["7203.XTKS"]), catalog(usdjpy)) == [(usdjpy, True, ("7203.XTKS",))]
    assert found(plan(["7203.XTKS"]), catalog(jpyusd)) == [(jpyusd, False, ("7203.XTKS",))]


def test_the_instruments_venue_is_preferred_then_mid_then_its_own_step() -> None:
    at_sim, at_home = bars("USD/JPY.SIM"), bars("USD/JPY.XTKS", "1-MINUTE-LAST")
    assert found(plan(["7203.XTKS"]), catalog(at_sim, at_home))[0][0] == at_home
    mid, last = bars("USD/JPY.SIM"), bars("USD/JPY.SIM", "1-MINUTE-LAST")
    assert found(plan(["7203.XTKS"]), catalog(mid, last))[0][0] == mid
    hour, minute = bars("USD/JPY.SIM", "1-HOUR-MID"), bars("USD/JPY.SIM", "5-MINUTE-MID")
    assert found(plan(["7203.XTKS"]), catalog(hour, minute))[0][0] == minute
    same = bars("USD/JPY.SIM", "1-MINUTE-MID")
    assert found(plan(["7203.XTKS"], spec="1-MINUTE-LAST"), catalog(minute, same))[0][0] == same


def test_a_traded_pair_converts_with_its_own_streamed_bars() -> None:
    traded = bars("USD/JPY.SIM", "1-MINUTE-LAST")
    run = plan(["USD/JPY.SIM", "7203.XTKS"])
    ((bar_type, inverted, converted),) = found(run, catalog(traded, bars("USD/JPY.XTKS")))
    assert (bar_type, inverted, converted) == (traded, True, ("7203.XTKS", "USD/JPY.SIM"))
    assert find_rates(
        run, catalog(traded), {s.instrument_id: s for s in catalog(traded).instruments()}
    )[0].streamed


def test_bid_or_ask_bars_alone_are_no_rate() -> None:
    with pytest.raises(InvalidInputError, match="no MID or LAST bars of such a pair"):
        found(plan(["7203.XTKS"]), catalog(bars("USD/JPY.SIM", "1-MINUTE-BID")))


def test_a_missing_rate_names_the_instrument_the_currencies_and_the_pairs_held() -> None:
    with pytest.raises(InvalidInputError) as raised:
        found(plan(["7203.XTKS"]), catalog(bars("EUR/USD.SIM")))
    assert raised.value.message == (
        "JPY-quoted 7203.XTKS needs a USD/JPY or JPY/USD rate: the catalog holds no MID or "
        "LAST bars of such a pair (it holds FX bars of EUR/USD.SIM)"
    )
    assert raised.value.hint is not None and "USD/JPY" in raised.value.hint


def test_rates_starting_after_the_instruments_first_bar_do_not_cover_the_run() -> None:
    late = {"USD_JPY.SIM-1-MINUTE-MID-EXTERNAL": (T0 + 5 * MINUTE, T1)}
    with pytest.raises(InvalidInputError, match="do not reach back that far") as raised:
        found(plan(["7203.XTKS"]), catalog(**late))
    assert "rate from 1970-01-01 01:40:00" in raised.value.message  # the first Toyota bar


def test_a_cash_account_converts_like_a_margin_account() -> None:
    run = plan(["7203.XTKS"], [{"name": "XTKS", "account_type": "CASH"}])
    assert found(run, catalog(bars("USD/JPY.SIM")))[0][0] == bars("USD/JPY.SIM")


def test_commission_per_unit_in_the_venues_currency_is_refused_for_another() -> None:
    run = plan(["7203.XTKS"], [{"name": "XTKS", "commission_per_unit": "0.01"}])
    with pytest.raises(InvalidInputError, match=r"commission_per_unit is in USD but 7203\.XTKS"):
        found(run, catalog(bars("USD/JPY.SIM")))


def test_venues_in_several_currencies_are_refused_before_the_run() -> None:
    run = plan(
        ["7203.XTKS", "ACME.XNAS"], [{"name": "XTKS", "base_currency": "JPY"}, {"name": "XNAS"}]
    )
    with pytest.raises(
        InvalidInputError, match=r"venues account in several currencies \(JPY, USD\)"
    ):
        found(run, catalog())
