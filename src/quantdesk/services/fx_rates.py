"""Rate discovery: for each currency a run's instruments are quoted in beside their venue's,
the FX pair bars in the catalog that convert it (see :mod:`quantdesk.domain.conversion`).

Candidates for converting C into B are the bar series of an FX (or crypto spot) pair whose
two currencies are C and B, in either direction, external bars of price type MID or LAST
(BID or ASK alone is one side of the market: not a rate). Of those whose bars cover the run,
the first by, in order:

1. the bars the run already streams (a traded pair: the engine sees the same closes);
2. the pair listed at the venue of the instruments it converts, then any venue;
3. MID before LAST;
4. the step of the converted instruments' own bars, then the finest step;
5. the bar type's name (so the choice never depends on the catalog's listing order).

*Cover*: the series has a bar within the run's range at or before the first bar of every
instrument it converts (a rate is then defined at each of their fills and marks), a rate
being the last close at or before an instant. Nothing found is an error before the run that
names the instrument, both currencies and the pairs the catalog holds.

Accounts: a MARGIN account converts each fill's realised PnL at its rate and marks open
positions' unrealised PnL; a CASH account converts each fill's whole cash flow at its rate
and marks its holdings' whole value (both as the engine's accounts book them).
"""

from collections.abc import Iterable, Sequence

import numpy as np

from quantdesk.domain.backtest import FillRecord
from quantdesk.domain.backtest_plan import RunPlan, bar_step_ns, instrument_of
from quantdesk.domain.backtest_settings import AccountType
from quantdesk.domain.conversion import ConversionUsed, RateSource
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.market_data import BarSpec, CatalogEntry
from quantdesk.domain.market_feeds import is_internal
from quantdesk.domain.record_log import as_log
from quantdesk.domain.time import ns_to_text
from quantdesk.services.ports import MarketDataCatalog
from quantdesk.services.valuation import RateSeries, Valuation

RATE_PRICE_TYPES = ("MID", "LAST")  # in order of preference
PAIR_CLASSES = (AssetClass.FX, AssetClass.CRYPTO_SPOT)
_HELD_SHOWN = 8


def pnl_currency(spec: InstrumentSpec) -> str:
    """The currency an instrument's PnL is booked in: its settlement, else its quote."""
    return spec.settlement_currency or spec.currency


def check_one_base_currency(plan: RunPlan) -> str:
    """The run's one account currency; venues in several are refused (their balances would
    not add up to one starting equity)."""
    currencies = sorted({plan.venue(v).base_currency for v in plan.venue_names})
    if len(currencies) > 1:
        raise InvalidInputError(
            f"venues account in several currencies ({', '.join(currencies)}): a run's equity "
            "is in one",
            hint=f"give every venue the same base_currency, e.g. {currencies[0]}: instruments "
            "quoted in another currency are converted at the catalog's FX rates",
        )
    return currencies[0] if currencies else "USD"


def find_rates(
    plan: RunPlan, catalog: MarketDataCatalog, instruments: dict[str, InstrumentSpec]
) -> tuple[RateSource, ...]:
    """The rate series of a pinned plan, one per (currency, base currency) it needs;
    ``instruments``: the catalog's, by id (the pairs are found among them)."""
    start, end = plan.start_ns, plan.end_ns
    assert start is not None and end is not None
    check_one_base_currency(plan)
    needs: dict[tuple[str, str], list[str]] = {}
    for instrument_id in plan.instruments:
        spec = instruments[instrument_id]
        venue = plan.venue_of(instrument_id)
        currency = pnl_currency(spec)
        if currency == venue.base_currency:
            continue
        if spec.is_inverse:
            raise InvalidInputError(
                f"{instrument_id} is an inverse contract settled in {currency} but venue "
                f"{venue.name} accounts in {venue.base_currency}: inverse PnL is not converted",
                hint=f"set the venue's base_currency to {currency}",
            )
        if venue.commission_per_unit is not None:
            raise InvalidInputError(
                f"venue {venue.name}'s commission_per_unit is in {venue.base_currency} but "
                f"{instrument_id} settles in {currency}: the engine charges commission in "
                "the settlement currency",
                hint="charge it as a rate of notional (maker_fee / taker_fee) instead",
            )
        needs.setdefault((currency, venue.base_currency), []).append(instrument_id)
    if not needs:
        return ()
    entries = [e for e in catalog.entries() if e.data_type == "bar"]
    return tuple(
        _choose(plan, catalog, instruments, entries, currency, base, converted)
        for (currency, base), converted in sorted(needs.items())
    )


def _choose(
    plan: RunPlan,
    catalog: MarketDataCatalog,
    instruments: dict[str, InstrumentSpec],
    entries: list[CatalogEntry],
    currency: str,
    base: str,
    converted: list[str],
) -> RateSource:
    start, end = plan.start_ns, plan.end_ns
    assert start is not None and end is not None
    pairs = {
        i.instrument_id: i
        for i in instruments.values()
        if i.asset_class in PAIR_CLASSES and {i.base_currency, i.currency} == {currency, base}
    }
    candidates = [
        e
        for e in entries
        if e.instrument_id in pairs
        and not is_internal(e.identifier)
        and _price_type(e.identifier) in RATE_PRICE_TYPES
    ]
    needed_from = _first_bars(plan, catalog, converted)
    venues = {instruments[i].venue for i in converted}
    steps = {bar_step_ns(plan.marks[i]) for i in converted if i in plan.marks}
    covering = []
    for entry in candidates:
        count, first, _ = catalog.bar_span(entry.identifier, start, end)
        if count and first <= needed_from:
            covering.append(entry.identifier)
    if not covering:
        raise _missing(converted[0], currency, base, candidates, pairs, entries, needed_from)

    def rank(bar_type: str) -> tuple[bool, bool, int, bool, int, str]:
        step = bar_step_ns(bar_type)
        return (
            bar_type not in plan.bar_types,
            pairs[instrument_of(bar_type)].venue not in venues,
            RATE_PRICE_TYPES.index(_price_type(bar_type)),
            step not in steps,
            step,
            bar_type,
        )

    chosen = min(covering, key=rank)
    return RateSource(
        currency=currency,
        base_currency=base,
        bar_type=chosen,
        inverted=pairs[instrument_of(chosen)].base_currency == base,
        streamed=chosen in plan.bar_types,
        instruments=tuple(converted),
    )


def _price_type(bar_type: str) -> str:
    return BarSpec.parse("-".join(bar_type.rsplit("-", 4)[1:4])).price_type


def _first_bars(plan: RunPlan, catalog: MarketDataCatalog, converted: Iterable[str]) -> int:
    """The earliest instant the run may need a rate at: the first bar (or, for bars built
    from ticks, the start) of the instruments converted."""
    start, end = plan.start_ns, plan.end_ns
    assert start is not None and end is not None
    firsts = []
    for instrument_id in converted:
        mark = plan.marks.get(instrument_id)
        if mark is None or is_internal(mark):
            firsts.append(start)
            continue
        count, first, _ = catalog.bar_span(mark, start, end)
        firsts.append(first if count else end)
    return min(firsts, default=start)


def _missing(
    instrument_id: str,
    currency: str,
    base: str,
    candidates: list[CatalogEntry],
    pairs: dict[str, InstrumentSpec],
    entries: list[CatalogEntry],
    needed_from: int,
) -> InvalidInputError:
    wanted = f"a {base}/{currency} or {currency}/{base} rate"
    head = f"{currency}-quoted {instrument_id} needs {wanted}"
    if candidates:
        held = "; ".join(
            f"{e.identifier} from {ns_to_text(e.first_ts)} to {ns_to_text(e.last_ts)}"
            for e in candidates[:_HELD_SHOWN]
        )
        return InvalidInputError(
            f"{head} from {ns_to_text(needed_from)}: the catalog's bars of the pair do not "
            f"reach back that far within the run ({held})",
            hint=f"ingest {base}/{currency} bars from {ns_to_text(needed_from)} or earlier, "
            "or start the run later",
        )
    fx = sorted({e.instrument_id for e in entries if _is_pair(e, pairs)})
    shown = ", ".join(fx[:_HELD_SHOWN]) + (", ..." if len(fx) > _HELD_SHOWN else "")
    also = f" (it holds FX bars of {shown})" if fx else ""
    defined = f" ({', '.join(sorted(pairs))} is defined)" if pairs else ""
    return InvalidInputError(
        f"{head}: the catalog holds no MID or LAST bars of such a pair{defined}{also}",
        hint=f"ingest MID or LAST bars of {base}/{currency} (or {currency}/{base}) covering "
        "the run",
    )


def _is_pair(entry: CatalogEntry, pairs: dict[str, InstrumentSpec]) -> bool:
    """An FX-looking series (``AAA/BBB.VENUE``) other than the wanted pairs."""
    return "/" in entry.instrument_id and entry.instrument_id not in pairs


def run_valuation(
    plan: RunPlan,
    catalog: MarketDataCatalog,
    fills: Sequence[FillRecord],
) -> tuple[Valuation | None, list[ConversionUsed], list[str]]:
    """How a finished run's instruments reach its base currency, the record of the rates
    read, and warnings where the engine converted a fill at another rate than the curve.

    None when every instrument is plain (base currency, multiplier 1): the curve then takes
    its plain arithmetic only, bit for bit as before conversions existed.
    """
    start, end = plan.start_ns, plan.end_ns
    assert start is not None and end is not None
    specs = {i: catalog.instrument(i) for i in plan.instruments}
    multiplier = {i: float(s.multiplier) for i, s in specs.items() if s and s.multiplier != 1}
    if not plan.rates and not multiplier:
        return None, [], []
    base = check_one_base_currency(plan)
    currency = {i: r.currency for r in plan.rates for i in r.instruments}
    series: dict[str, RateSeries] = {}
    for source in plan.rates:
        ts, close = catalog.read_closes(source.bar_type, start, end)
        series[source.currency] = RateSeries(ts, 1.0 / close if source.inverted else close)
    cash = frozenset(
        i for i in plan.instruments if plan.venue_of(i).account_type is AccountType.CASH
    )
    valuation = Valuation(base, currency=currency, multiplier=multiplier, rates=series, cash=cash)
    log = as_log(FillRecord, fills)
    codes, instruments = log.encoded("instrument_id")
    code = np.array(codes, dtype=np.int64)
    fill_ts = np.array(log.numbers("ts_ns"), dtype=np.int64)
    quote_rate = np.array(log.numbers("quote_rate"), dtype=np.float64)
    counted: dict[str, int] = {}
    warnings = []
    for index, instrument_id in enumerate(str(i) for i in instruments):
        own = currency.get(instrument_id)
        if own is None:
            continue
        mine = code == index
        counted[own] = counted.get(own, 0) + int(mine.sum())
        ts = fill_ts[mine]
        ours = valuation.rates_at(own, ts, f"{instrument_id}'s fill")
        engine = quote_rate[mine]
        off = np.flatnonzero(~np.isclose(engine, ours, rtol=1e-12, atol=0.0))
        if len(off):
            warnings.append(
                f"the engine converted {len(off):,} fills of {instrument_id} at other "
                f"{own}/{base} rates than the equity curve (first at "
                f"{ns_to_text(int(ts[off[0]]))}: {engine[off[0]]!r} against {ours[off[0]]!r}): "
                "its account balance and the curve disagree"
            )
    used = []
    for source in plan.rates:
        rates = series[source.currency]
        used.append(
            ConversionUsed(
                currency=source.currency,
                base_currency=source.base_currency,
                bar_type=source.bar_type,
                inverted=source.inverted,
                instruments=list(source.instruments),
                points=len(rates.ts_ns),
                first_ts=int(rates.ts_ns[0]),
                last_ts=int(rates.ts_ns[-1]),
                first_rate=float(rates.rate[0]),
                last_rate=float(rates.rate[-1]),
                fills=counted.get(source.currency, 0),
            )
        )
    return valuation, used, warnings
