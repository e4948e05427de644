"""Signals replayed in backtests (issue 5, items 4 and 6): interleaved with the bars by
``ts_init``, never seen early, filtered by type, and traced signal -> decision -> fill.

The market is synthetic; the sentiment signals come from the built-in producer over a
headlines file, the regime signals from the built-in regime producer, and a few hand-made
signals sit exactly on bar closes to pin the order at equal timestamps.
"""

import json
from bisect import bisect_right
from datetime import UTC, datetime
from pathlib import Path

import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest import BacktestRequest, StrategySpec
from quantdesk.domain.backtest_plan import RunPlan
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.market_data import BarSpec, bar_type_id
from quantdesk.domain.strategies.problems import parse_definition
from quantdesk.services.platform import Platform
from quantdesk.services.signal_producers import ProduceRequest
from quantdesk.services.synthetic import DEFAULT_START_NS, SyntheticMarketConfig
from support import signal_probe
from support.plugin_desk import plugin_settings
from support.signals import raw_signal
from support.strategy_runs import raw_plan

MINUTE_NS = 60_000_000_000
INSTRUMENTS = ["SYN01.SIM", "SYN02.SIM"]
TIE_MINUTES = (88, 599, 1_299)  # hand-made signals exactly on these bar closes (see below)
GOOD = "{name} beats forecasts with excellent growth, shares rally strongly"
BAD = "{name} warns of terrible losses and weak demand, shares plunge"


def _headlines(path: Path) -> Path:
    """Two days of news, one headline every 47 minutes, alternating good and bad."""
    rows = ["timestamp,instrument,text"]
    for k in range(1, 60):
        ts_s = (DEFAULT_START_NS + k * 47 * MINUTE_NS + 13_000_000_000) // 1_000_000_000
        instrument = INSTRUMENTS[k % 2]
        text = (GOOD if (k // 2) % 2 == 0 else BAD).format(name=instrument.split(".")[0])
        rows.append(f'{_iso(ts_s)},{instrument},"{text}"')
    path.write_text("\n".join(rows) + "\n")
    return path


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("signal-replay")
    home = base / "home"
    desk = bootstrap(home=home)
    desk.synthetic.synthesize(SyntheticMarketConfig(instruments=2, days=2, seed=4))
    headlines = _headlines(base / "headlines.csv")
    produced = []
    for instrument_id in INSTRUMENTS:
        produced += desk.producers.produce(
            "sentiment", ProduceRequest(instrument_id=instrument_id, headlines=headlines)
        )
        produced += desk.producers.produce(
            "regime", ProduceRequest(instrument_id=instrument_id, every=240)
        )
    lines = [s.canonical_json() for s in produced]
    for minute in TIE_MINUTES:  # known exactly at a bar close, neutral: never traded on
        ts = DEFAULT_START_NS + minute * MINUTE_NS
        lines.append(
            json.dumps(raw_signal("SENTIMENT", "SYN01.SIM", ts, lag_ns=0, value={"score": 0.0}))
        )
    signals_file = base / "signals.jsonl"
    signals_file.write_text("\n".join(lines) + "\n")
    desk.signals.ingest_file(signals_file)
    return home


@pytest.fixture
def desk(market: Path) -> Platform:
    return bootstrap(plugin_settings(market))


SENTIMENT_PARAMETERS = {
    "entry_threshold": 0.3,
    "exit_threshold": 0.1,
    "min_confidence": 0.0,
    "max_holding_bars": 25,
    "trade_size": "100",
}


def sentiment_request(
    desk: Platform, signals: object = ("SENTIMENT",), **engine: object
) -> BacktestRequest:
    """The sentiment_reaction family on both instruments, registered, run by reference."""
    definition = parse_definition(
        {
            "strategy_id": "news-both",
            "family": "sentiment_reaction",
            "name": "news on both",
            "instruments": INSTRUMENTS,
            "parameters": SENTIMENT_PARAMETERS,
            "signal_subscriptions": ["SENTIMENT"],
        }
    )
    stored = desk.registry.register(definition, "tester").stored
    return BacktestRequest(
        strategies=[stored.ref],
        signals=list(signals) if isinstance(signals, tuple) else signals,
        engine={"log_level": "OFF", **engine},
    )


def probe_request(signals: object, signal_types: list[str], **engine: object) -> RunPlan:
    spec = BarSpec.parse("1-MINUTE-LAST")
    return raw_plan(
        [
            StrategySpec(
                strategy_path="support.signal_probe:SignalProbe",
                config_path="support.signal_probe:SignalProbeConfig",
                config={
                    "bar_types": [bar_type_id(i, spec) for i in INSTRUMENTS],
                    "signal_types": signal_types,
                    "order_id_tag": "P",
                },
            )
        ],
        instruments=INSTRUMENTS,
        signals=signals,
        engine={"log_level": "OFF", **engine},
    )


def run_probe(desk: Platform, request: RunPlan) -> list[signal_probe.Event]:
    signal_probe.SEEN.clear()
    desk.backtests.run_plan(request)
    (events,) = signal_probe.SEEN.values()
    return events


def buffered(desk: Platform, signal_type: str) -> list[str]:
    return [
        s.signal_id
        for i in INSTRUMENTS
        for s in desk.signals.list(signal_type=signal_type, instrument_id=i, limit=None)
    ]


def test_decisions_trace_back_to_signal_ids(desk: Platform) -> None:
    result = desk.backtests.run(sentiment_request(desk))
    fills = desk.backtests.artifacts(result.run_id).fills  # read back from the run store
    assert len(fills) >= 10, "the sentiment strategy should trade on the news"
    for fill in fills:
        assert fill.signal_id is not None, f"fill {fill.trade_id} has no signal"
        signal = desk.signals.show(fill.signal_id)
        assert signal.ts_init <= fill.ts_ns
        assert signal.instrument_id == fill.instrument_id
        assert signal.signal_type.value == "SENTIMENT"
    provenance = result.provenance
    assert provenance is not None
    assert provenance.fills_on_signals == len(fills) and provenance.fills_without_signal == 0
    assert provenance.signals_replayed == len(buffered(desk, "SENTIMENT"))
    assert provenance.signals_consumed == provenance.signals_replayed  # one strategy each
    assert {t.signal_id for t in provenance.traces} == {f.signal_id for f in fills}
    assert sum(t.fills for t in provenance.traces) == len(fills)
    assert provenance.orders == provenance.orders_approved == result.facts.orders
    for trace in provenance.traces:
        assert trace.source_model == "quantdesk.sentiment.headlines"
        assert trace.trace_id == desk.signals.show(trace.signal_id).provenance.trace_id
    report = Path(desk.backtests.report_path(result.run_id)).read_text()
    assert "<h2>Signals</h2>" in report and provenance.traces[0].signal_id in report
    assert [d.signals for d in result.signal_data] == [
        len(desk.signals.list(signal_type="SENTIMENT", instrument_id=i, limit=None))
        for i in INSTRUMENTS
    ]


def test_without_signals_the_sentiment_strategy_never_trades(desk: Platform) -> None:
    result = desk.backtests.run(sentiment_request(desk, signals="none"))
    assert desk.backtests.artifacts(result.run_id).fills == []
    assert result.provenance is None and result.signal_data == []


def test_same_run_twice_identical_decisions_and_fills(desk: Platform) -> None:
    """Property 23 on the engine: bit-for-bit, and independent of the streaming chunk size."""
    runs = [
        desk.backtests.run(sentiment_request(desk, chunk_size=c))
        for c in (100_000, 100_000, 7, None)
    ]
    fills = [desk.backtests.artifacts(r.run_id).fills for r in runs]
    assert fills[0] and all(f == fills[0] for f in fills)
    assert all(r.provenance == runs[0].provenance for r in runs)
    assert len({r.fingerprint for r in runs}) == 1


def test_a_signal_is_seen_at_its_ts_init_never_earlier(desk: Platform) -> None:
    """No look-ahead: delivered at its ts_init, after every bar up to and including it.

    Chunks of 7 bars over two instruments end between the two bars of the tie minutes, so
    a signal handed to the engine one chunk too early would overtake the second bar.
    """
    expected = set(buffered(desk, "SENTIMENT"))
    ties = {DEFAULT_START_NS + m * MINUTE_NS for m in TIE_MINUTES}
    orders = []
    for chunk_size in (100_000, 7, None):
        events = run_probe(desk, probe_request(["SENTIMENT"], ["SENTIMENT"], chunk_size=chunk_size))
        bar_stamps = sorted(e[1] for e in events if e[0] == "bar")
        signals = [e for e in events if e[0] == "signal"]
        assert {e[4] for e in signals} == expected
        for kind, ts_init, clock, _, _ in events:
            assert clock == ts_init, f"{kind} at {ts_init} delivered at {clock}"
        for _, ts_init, _, bars_before, signal_id in signals:
            due = bisect_right(bar_stamps, ts_init)  # bars with ts_init <= the signal's
            assert bars_before == due, f"signal {signal_id} saw {bars_before} bars, not {due}"
        assert sum(1 for e in signals if e[1] in ties) == len(TIE_MINUTES)
        orders.append([(e[0], e[1], e[4]) for e in events])
    assert orders[0] == orders[1] == orders[2], "chunking changed the delivery order"


def test_signal_types_select_what_is_replayed(desk: Platform) -> None:
    both = ["REGIME_PREDICTION", "SENTIMENT"]
    sentiment, regime = set(buffered(desk, "SENTIMENT")), set(buffered(desk, "REGIME_PREDICTION"))
    assert regime, "the regime producer should have written signals"
    only = run_probe(desk, probe_request(["SENTIMENT"], both))
    assert {e[4] for e in only if e[0] == "signal"} == sentiment
    every = run_probe(desk, probe_request("all", both))
    assert {e[4] for e in every if e[0] == "signal"} == sentiment | regime
    subscribed = run_probe(desk, probe_request("all", ["REGIME_PREDICTION"]))
    assert {e[4] for e in subscribed if e[0] == "signal"} == regime


def test_signals_not_in_the_buffer_are_a_clear_error(desk: Platform) -> None:
    with pytest.raises(InvalidInputError) as error:
        desk.backtests.run(sentiment_request(desk, signals=("VOLATILITY_FORECAST",)))
    assert "no VOLATILITY_FORECAST signals for SYN01.SIM, SYN02.SIM" in str(error.value)
    assert error.value.hint is not None and "SENTIMENT" in error.value.hint


def test_signals_enter_the_fingerprint(desk: Platform) -> None:
    with_signals = desk.backtests.run(sentiment_request(desk))
    without = desk.backtests.run(sentiment_request(desk, signals="none"))
    assert with_signals.fingerprint != without.fingerprint
    pinned, data = desk.backtests.prepare(sentiment_request(desk))
    used = desk.backtests.signal_data(pinned)
    assert desk.backtests.fingerprint(pinned, data, used) == with_signals.fingerprint
    changed = [used[0].model_copy(update={"file_sha256": ["0" * 64]}), *used[1:]]
    assert desk.backtests.fingerprint(pinned, data, changed) != with_signals.fingerprint
