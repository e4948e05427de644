"""Built-in producers on a real catalog (synthetic market), the real ``arch`` and VADER, real
headline files, and ``quantdesk signals produce`` as a user types it."""

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import typer
from arch import arch_model
from typer.testing import CliRunner
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from quantdesk.adapters.analytics.garch import ArchGarchFitter
from quantdesk.adapters.analytics.vader import VaderSentimentScorer
from quantdesk.adapters.sources.headline_files import HeadlineFileSource
from quantdesk.bootstrap import bootstrap
from quantdesk.cli.app import create_cli
from quantdesk.cli.signal_producers import add_produce_command
from quantdesk.domain.errors import SourceReadError
from quantdesk.domain.signals import (
    AISignal,
    RegimeValue,
    SentimentValue,
    SignalValidationContext,
    validate_signal,
)
from quantdesk.services.platform import Platform
from quantdesk.services.signal_producers import GarchConfig, ProduceRequest, SignalProducerService
from quantdesk.services.signal_producers.volatility import garch_filter, garch_term_variances
from quantdesk.services.synthetic import Regime, SyntheticMarketConfig, generate_market
from support.closes_catalog import EchoGarchFitter, InMemoryCloses, LengthScorer, ListHeadlines

HEADLINES = Path(__file__).resolve().parents[2] / "examples" / "signals" / "headlines.csv"
MARKET = SyntheticMarketConfig(instruments=3, days=3, seed=7)


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    desk = bootstrap(home=tmp_path_factory.mktemp("producers") / "home")
    desk.synthetic.synthesize(MARKET)
    return desk


RUNS = [
    ("regime", None, ProduceRequest("SYN01.SIM")),
    ("volatility", "ewma", ProduceRequest("SYN01.SIM")),
    ("volatility", "garch", ProduceRequest("SYN02.SIM")),
    ("correlation", None, ProduceRequest("SYN01.SIM", other_instrument_id="SYN03.SIM")),
    ("sentiment", None, ProduceRequest("SYN01.SIM", headlines=HEADLINES)),
]


def _validate_all(desk: Platform, signals: list[AISignal]) -> None:
    seen: set[str] = set()
    context = SignalValidationContext(
        now_ns=MARKET.start_ns + 30 * 86_400_000_000_000,
        known_instruments={i.instrument_id for i in desk.instruments.list()},
        is_duplicate=lambda sid: sid in seen or bool(seen.add(sid)),
        max_age_ns=dict(desk.producers.max_ages()),
    )
    for signal in signals:
        checked = validate_signal(json.loads(signal.canonical_json()), context)
        assert checked == signal, checked


@pytest.mark.parametrize(("kind", "model", "request_"), RUNS)
def test_producers_over_the_synthetic_catalog_give_valid_reproducible_signals(
    market: Platform, tmp_path: Path, kind: str, model: str | None, request_: ProduceRequest
) -> None:
    signals = market.producers.produce(kind, request_, model)
    assert len(signals) >= 5
    _validate_all(market, signals)
    bars = market.catalog.entries("SYN01.SIM")[0]
    assert all(bars.first_ts <= s.ts_event <= bars.last_ts for s in signals)
    again = market.producers.produce(kind, request_, model)
    assert [s.canonical_json() for s in again] == [s.canonical_json() for s in signals]


def test_another_home_with_the_same_market_gives_the_same_bytes(
    market: Platform, tmp_path: Path
) -> None:
    other = bootstrap(home=tmp_path / "home")
    other.synthetic.synthesize(MARKET)
    for kind, model, request in RUNS:
        if model == "garch":
            continue  # same code path as ewma for identity; the fit itself is checked below
        mine = [s.canonical_json() for s in market.producers.produce(kind, request, model)]
        theirs = [s.canonical_json() for s in other.producers.produce(kind, request, model)]
        assert mine == theirs, kind


def test_the_regime_model_sees_the_synthetic_high_volatility_regime() -> None:
    """On the synthetic market, P(volatile) is higher where the generator was volatile."""
    series = generate_market(SyntheticMarketConfig(instruments=1, days=12, seed=3))[0]
    catalog = InMemoryCloses()
    catalog.put("SYN01.SIM", series.bars.ts_ns, series.bars.close)
    service = SignalProducerService(
        catalog.as_catalog(), EchoGarchFitter(), LengthScorer(), ListHeadlines([])
    )
    signals = service.produce("regime", ProduceRequest("SYN01.SIM", every=10))
    index = {int(t): k for k, t in enumerate(series.bars.ts_ns.tolist())}
    volatile: dict[int, list[float]] = {r.value: [] for r in Regime}
    for s in signals:
        assert isinstance(s.value, RegimeValue)
        p = s.value.probabilities
        regime = int(series.regimes[index[s.ts_event]])
        volatile[regime].append(p["bull_volatile"] + p["bear_volatile"])
    high = float(np.mean(volatile[Regime.HIGH_VOLATILITY]))
    calm = float(np.mean(volatile[Regime.MEAN_REVERTING] + volatile[Regime.TRENDING]))
    assert high > 0.7 and calm < 0.4, (high, calm)


# adapters ----------------------------------------------------------------------------------


def test_arch_fit_and_our_filter_match_arch_forecasts_with_the_same_parameters() -> None:
    rng = np.random.default_rng(5)
    # a GARCH(1,1) path, per-bar scale like minute returns
    n, omega, alpha, beta = 1_500, 2e-8, 0.08, 0.9
    r = np.empty(n)
    v = omega / (1 - alpha - beta)
    for t in range(n):
        r[t] = np.sqrt(v) * rng.standard_normal()
        v = omega + alpha * r[t] ** 2 + beta * v
    fitter = ArchGarchFitter()
    fit = fitter.fit(r[:1_000])
    assert fit.converged and 0.0 < fit.alpha < 0.3 and 0.6 < fit.beta < 1.0
    # arch itself, same parameters fixed, over the fit window and 200 returns after it
    scale = 1.0 / float(np.std(r[:1_000]))
    params = np.array([fit.omega * scale**2, fit.alpha, fit.beta])
    fixed = arch_model(r[:1_200] * scale, mean="Zero", vol="GARCH", p=1, q=1).fix(params)
    theirs = fixed.forecast(horizon=30, reindex=False).variance.to_numpy()[-1] / scale**2
    ours = garch_term_variances(fit, garch_filter(fit, fit.next_variance, r[1_000:1_200]), 30)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    own = arch_model(r[:1_000] * scale, mean="Zero", vol="GARCH", p=1, q=1).fix(params)
    one_step = own.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0] / scale**2
    assert fit.next_variance == pytest.approx(one_step, rel=1e-9)


def test_garch_producer_on_catalog_data_refits_only_on_the_past(market: Platform) -> None:
    config = GarchConfig(fit_window=500, min_fit_returns=300, refit_every=4)
    service = SignalProducerService(
        _catalog_of(market),
        ArchGarchFitter(),
        VaderSentimentScorer(),
        HeadlineFileSource(),
        garch_config=config,
    )
    signals = service.produce("volatility", ProduceRequest("SYN01.SIM", every=120), "garch")
    assert signals and all(s.value.model_dump()["annualized_volatility"] > 0 for s in signals)
    for s in signals:
        assert int(s.metadata["fitted_through_ns"]) <= s.ts_event
        assert int(s.metadata["fit_returns"]) <= 500
    assert signals[0].provenance.model_version == "1+arch-8.0.0"


def _catalog_of(desk: Platform):  # type: ignore[no-untyped-def]
    from quantdesk.adapters.nautilus.catalog import ParquetCatalog

    return ParquetCatalog(desk.home / "catalog")


def test_vader_scorer_gives_vaders_compound_score() -> None:
    texts = ["Great news: record profit!", "Terrible losses, shares crash", "The meeting is held"]
    analyzer = SentimentIntensityAnalyzer()
    expected = [analyzer.polarity_scores(t)["compound"] for t in texts]
    scores = VaderSentimentScorer().score(texts)
    assert scores == expected
    assert scores[0] > 0.5 and scores[1] < -0.5 and scores[2] == 0.0
    assert VaderSentimentScorer().model_version == "vader-3.3.2"


def test_headline_files_read_as_csv_and_json_lines(tmp_path: Path) -> None:
    feed = HeadlineFileSource().read_headlines(HEADLINES)
    assert len(feed.headlines) == 18
    assert feed.source_id.startswith("headlines.csv@sha256:")
    first = feed.headlines[0]
    assert (first.ts_ns, first.instrument_id) == (1_704_069_900_000_000_000, "SYN01.SIM")
    assert "contract, shares" in first.text  # a quoted comma stays in the text
    lines = tmp_path / "news.jsonl"
    lines.write_text(
        '{"timestamp": "2024-01-01T00:01:00+00:00", "instrument": "SYN01.SIM", "text": "up"}\n'
        '\n{"timestamp": 1704067200000000000, "instrument": "SYN02.SIM", "text": "down"}\n'
    )
    read = HeadlineFileSource().read_headlines(lines).headlines
    assert [(h.ts_ns, h.text) for h in read] == [
        (1_704_067_200_000_000_000, "down"),
        (1_704_067_260_000_000_000, "up"),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("time,instrument,text\n1,A.SIM,x\n", "header lacks timestamp"),
        ("timestamp,instrument,text\n2024-01-01T00:00:00,A.SIM,x\n", ":2: .* no timezone"),
        ("timestamp,instrument,text\n2024-01-01T00:00Z,,x\n", "instrument is missing"),
        ("timestamp,instrument,text\nyesterday,A.SIM,x\n", "not ISO-8601"),
    ],
)
def test_bad_headline_files_are_refused_with_the_line(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "news.csv"
    path.write_text(content)
    with pytest.raises(SourceReadError, match=message):
        HeadlineFileSource().read_headlines(path)


def test_sentiment_from_the_example_headlines(market: Platform) -> None:
    signals = market.producers.produce(
        "sentiment", ProduceRequest("SYN01.SIM", headlines=HEADLINES)
    )
    # SYN01 has 8 headlines in the file, each at its own bar close; the one at 03:32 also
    # sees 03:30's in its hour of look-back
    assert len(signals) == 8
    assert [s.metadata["headlines"] for s in signals] == ["1", "1", "2", "1", "1", "1", "1", "1"]
    first = signals[0]
    assert isinstance(first.value, SentimentValue) and first.value.score > 0.3
    assert first.ts_event == 1_704_069_900_000_000_000  # the close of 00:45 carries 00:45 news
    assert first.provenance.derived_from[1].startswith("headlines:headlines.csv@sha256:")
    recall = next(s for s in signals if s.ts_event == 1_704_109_200_000_000_000)  # 11:40
    assert isinstance(recall.value, SentimentValue) and recall.value.score < 0


# CLI -------------------------------------------------------------------------------------------


@pytest.fixture
def cli() -> Iterator[typer.Typer]:
    app = create_cli(lambda home: bootstrap(home=home))
    groups = {g.name: g.typer_instance for g in app.registered_groups}
    signals = groups.get("signals")
    if signals is None:  # before the signals group exists, give produce one of its own
        signals = typer.Typer(no_args_is_help=True)
        app.add_typer(signals, name="signals")
    if not any(c.name == "produce" for c in signals.registered_commands):
        from rich.console import Console

        add_produce_command(signals, Console(width=200), Console(stderr=True))
    yield app


def test_cli_produce_writes_json_lines_a_user_can_ingest(cli: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    home = str(tmp_path / "home")
    synth = runner.invoke(
        cli, ["--home", home, "data", "synth", "--instruments", "2", "--days", "1"]
    )
    assert synth.exit_code == 0, synth.output
    out = tmp_path / "regime.jsonl"
    args = ["--home", home, "signals", "produce", "regime", "--instrument", "SYN01.SIM"]
    result = runner.invoke(cli, [*args, "--every", "30", "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert len(lines) == (1_440 - 179 - 1) // 30 + 1  # bars after the warm-up, every 30
    assert "bull_quiet" in result.output and str(out) in "".join(result.output.split())
    signals = [AISignal.model_validate_json(line) for line in lines]
    assert all(s.instrument_id == "SYN01.SIM" for s in signals)
    piped = runner.invoke(cli, [*args, "--every", "30", "--out", "-"])
    assert piped.exit_code == 0 and piped.stdout.splitlines() == lines
    default = runner.invoke(
        cli,
        ["--home", home, "signals", "produce", "correlation", "--instrument", "SYN01.SIM",
         "--other", "SYN02.SIM", "--start", "2024-01-01T06:00Z"],
    )  # fmt: skip
    assert default.exit_code == 0, default.output
    written = Path(home) / "signals" / "produced" / "correlation-SYN01.SIM-SYN02.SIM.jsonl"
    first = AISignal.model_validate_json(written.read_text().splitlines()[0])
    assert first.ts_event >= 1_704_088_800_000_000_000 + 240 * 60_000_000_000
    too_short = runner.invoke(cli, [*args, "--end", "2024-01-01T01:00Z", "--out", "-"])
    assert too_short.exit_code == 2
    assert "needs at least 180 bars" in too_short.output
    assert "holds 60" in too_short.output


def test_cli_produced_file_is_accepted_by_signals_ingest(cli: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    home = str(tmp_path / "home")
    runner.invoke(cli, ["--home", home, "data", "synth", "--instruments", "1", "--days", "1"])
    out = tmp_path / "vol.jsonl"
    produced = runner.invoke(
        cli,
        ["--home", home, "signals", "produce", "volatility", "--instrument", "SYN01.SIM",
         "--out", str(out)],
    )  # fmt: skip
    assert produced.exit_code == 0, produced.output
    ingested = runner.invoke(cli, ["--home", home, "signals", "ingest", str(out), "--json"])
    assert ingested.exit_code == 0, ingested.output
    summary = json.loads(ingested.stdout)
    assert (summary["accepted"], summary["rejected"]) == (24, 0)
    again = runner.invoke(cli, ["--home", home, "signals", "ingest", str(out)])
    assert again.exit_code == 0, again.output  # same ids: the buffer already holds every one
    assert "nothing new" in again.output and "24 signal(s) already buffered" in again.output
