"""A plan against the catalog: its instruments and bar types exist, its range is pinned to the
data it will read, and what it reads is listed with the files' checksums (the fingerprint's
data part). Signals likewise, from the signal buffer.
"""

from collections import Counter
from decimal import Decimal

from quantdesk.domain.backtest import DataUsed, SignalDataUsed
from quantdesk.domain.backtest_plan import RunPlan, instrument_of
from quantdesk.domain.errors import InvalidInputError, NotFoundError
from quantdesk.domain.expiry import check_run_window
from quantdesk.domain.market_data import BarSpec
from quantdesk.domain.market_feeds import is_internal
from quantdesk.domain.rolls import check_rolls
from quantdesk.domain.time import ns_to_text
from quantdesk.services.backtest_ticks import tick_data_used, tick_spans
from quantdesk.services.fx_rates import find_rates
from quantdesk.services.ports import MarketDataCatalog, SignalStore, TickCatalog


def _spec_of(bar_type: str) -> BarSpec:
    return BarSpec.parse("-".join(bar_type.rsplit("-", 4)[1:4]))


def check_single_sided(
    spec: BarSpec, instrument_id: str, spread: Decimal | None, tick: Decimal
) -> None:
    """BID or ASK bars alone make no market: every order would be rejected. A spread for
    other bars would do nothing, which is refused too."""
    if spec.price_type not in ("BID", "ASK"):
        if spread is not None:
            raise InvalidInputError(
                f"bar_spread {spread} is set for {instrument_id}'s venue but the run is on "
                f"{spec} bars, which need none",
                hint="a spread only applies to BID or ASK bars: leave it unset",
            )
        return
    other = "ASK" if spec.price_type == "BID" else "BID"
    if spread is None:
        raise InvalidInputError(
            f"{spec} bars of {instrument_id} are one side of the market only: the engine "
            "would reject every market order with 'no market'",
            hint=f"set the venue's bar_spread: the {other} side is then the bars "
            f"{'plus' if other == 'ASK' else 'minus'} the spread; or run on LAST or MID bars",
        )
    if spread % tick:
        raise InvalidInputError(
            f"bar_spread {spread} is not a multiple of {instrument_id}'s tick size {tick}",
            hint=f"e.g. {tick * max(1, round(spread / tick))}",
        )


def pin_range(
    plan: RunPlan, catalog: MarketDataCatalog, ticks: TickCatalog | None = None
) -> RunPlan:
    """Every instrument known, every bar type (or tick feed) in the catalog within the range;
    an open range bounded by the data; then the FX rates converting instruments quoted in
    another currency than their venue's (:func:`find_rates`), refused when missing."""
    request = plan.request
    known = {i.instrument_id: i for i in catalog.instruments()}
    entries = {e.identifier: e for e in catalog.entries()}
    for instrument_id in plan.instruments:
        instrument = known.get(instrument_id)
        if instrument is None:
            raise NotFoundError(
                f"unknown instrument {instrument_id!r} (catalog holds: "
                f"{', '.join(sorted(known)) or 'none'})",
                hint="define it with `quantdesk instruments add` and ingest its data",
            )
    spans = tick_spans(plan, ticks, request.start_ns, request.end_ns)
    first, last = [s[0] for s in spans], [s[1] for s in spans]
    for bar_type in plan.bar_types:
        if is_internal(bar_type):
            continue  # built by the engine from a tick feed, checked above
        instrument_id = instrument_of(bar_type)
        spec = _spec_of(bar_type)
        instrument = known[instrument_id]
        spread = request.venue(instrument.venue).bar_spread
        check_single_sided(spec, instrument_id, spread, instrument.tick_size)
        entry = entries.get(bar_type)
        if entry is None:
            raise InvalidInputError(
                f"no {spec} bars for {instrument_id} in the catalog",
                hint="ingest them: `quantdesk data ingest bars` (see `quantdesk data list`)",
            )
        start = request.start_ns if request.start_ns is not None else entry.first_ts
        end = request.end_ns if request.end_ns is not None else entry.last_ts
        if end < entry.first_ts or start > entry.last_ts:
            raise InvalidInputError(
                f"no {spec} bars for {instrument_id} between {ns_to_text(start)} and "
                f"{ns_to_text(end)}",
                hint=f"the catalog holds {instrument_id} from {ns_to_text(entry.first_ts)} "
                f"to {ns_to_text(entry.last_ts)}",
            )
        first.append(max(start, entry.first_ts))
        last.append(min(end, entry.last_ts))
    pinned = request.model_copy(
        update={
            "start_ns": request.start_ns if request.start_ns is not None else min(first),
            "end_ns": request.end_ns if request.end_ns is not None else max(last),
        }
    )
    assert pinned.start_ns is not None and pinned.end_ns is not None
    for instrument_id in plan.instruments:  # a contract the whole range cannot trade
        check_run_window(known[instrument_id], pinned.start_ns, pinned.end_ns, plan.instruments)
    check_rolls(request.rolls, [known[i] for i in plan.instruments])
    pinned_plan = plan.with_request(pinned)
    return pinned_plan.with_rates(find_rates(pinned_plan, catalog, known))


def data_used(
    plan: RunPlan, catalog: MarketDataCatalog, ticks: TickCatalog | None = None
) -> list[DataUsed]:
    """Per streamed bar type (and tick feed), and per rate series read beside them: its span
    in the run and the files (and their sources) read."""
    start_ns, end_ns = plan.start_ns, plan.end_ns
    assert start_ns is not None and end_ns is not None
    sources: dict[str, set[str]] = {}
    for record in catalog.lineage():
        for file in record.files_added:
            sources.setdefault(file.sha256, set()).add(record.source_sha256)
    used = []
    for bar_type in plan.bar_types:
        if is_internal(bar_type):
            continue
        files = catalog.bar_files(bar_type, start_ns, end_ns)
        count, first_ts, last_ts = catalog.bar_span(bar_type, start_ns, end_ns)
        used.append(
            DataUsed(
                bar_type=bar_type,
                first_ts=first_ts,
                last_ts=last_ts,
                bars=count,
                file_sha256=[f.sha256 for f in files],
                source_sha256=sorted({s for f in files for s in sources.get(f.sha256, ())}),
            )
        )
    for rate in plan.rates:
        if rate.streamed:
            continue  # listed above, as the run streams it
        files = catalog.bar_files(rate.bar_type, start_ns, end_ns)
        count, first_ts, last_ts = catalog.bar_span(rate.bar_type, start_ns, end_ns)
        used.append(
            DataUsed(
                bar_type=rate.bar_type,
                first_ts=first_ts,
                last_ts=last_ts,
                bars=count,
                file_sha256=[f.sha256 for f in files],
                source_sha256=sorted({s for f in files for s in sources.get(f.sha256, ())}),
                purpose="rate",
            )
        )
    return used + tick_data_used(plan, ticks, sources)


def signal_data(plan: RunPlan, signals: SignalStore | None) -> list[SignalDataUsed]:
    """The signals a pinned plan replays, per instrument (the journal flushed first).

    Asking for signals and finding none is an error naming what the buffer does hold:
    a run that silently replays nothing would pass for a strategy that ignored them.
    """
    request = plan.request
    if not request.replays_signals:
        return []
    start_ns, end_ns = plan.start_ns, plan.end_ns
    assert start_ns is not None and end_ns is not None
    if signals is None:
        raise InvalidInputError("this desk has no signal buffer to replay signals from")
    signals.flush()
    used = [
        signals.replay_data(i, request.signal_types, start_ns, end_ns) for i in plan.instruments
    ]
    if sum(u.signals for u in used) == 0:
        kinds = ", ".join(request.signal_types or ["AI"])
        raise InvalidInputError(
            f"no {kinds} signals for {', '.join(plan.instruments)} between "
            f"{ns_to_text(start_ns)} and {ns_to_text(end_ns)}",
            hint=_signals_held(signals, plan.instruments),
        )
    return used


def _signals_held(signals: SignalStore, instruments: tuple[str, ...]) -> str:
    by_type: Counter[str] = Counter()
    for (signal_type, _), count in signals.counts().items():
        by_type[signal_type] += count
    if not by_type:
        return "the signal buffer is empty: `quantdesk signals ingest FILE` (or produce some)"
    held = [f"{t} {n:,}" for t, n in sorted(by_type.items())]
    for instrument_id in instruments:
        span = signals.replay_data(instrument_id, None, 0, 2**63 - 1)
        if span.signals and span.first_ts is not None and span.last_ts is not None:
            held.append(
                f"{instrument_id}: {span.signals:,} of any type from "
                f"{ns_to_text(span.first_ts)} to {ns_to_text(span.last_ts)}"
            )
        else:
            held.append(f"{instrument_id}: none")
    return "the buffer holds " + "; ".join(held) + " (see `quantdesk signals list`)"
