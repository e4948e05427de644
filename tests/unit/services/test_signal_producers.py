"""Built-in signal producers: each numeric core against an independent computation, and the
producers' signals (valid, deterministic, stamped after the bar they come from)."""

import math
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from quantdesk.domain.errors import InvalidInputError, NotFoundError
from quantdesk.domain.signals import (
    AISignal,
    RegimeValue,
    SignalType,
    SignalValidationContext,
    validate_signal,
)
from quantdesk.services.ports import GarchFit, Headline
from quantdesk.services.signal_producers import (
    CorrelationConfig,
    EwmaConfig,
    GarchConfig,
    ProduceRequest,
    RegimeConfig,
    SignalProducerService,
)
from quantdesk.services.signal_producers.correlation import (
    correlation_shifts,
    fisher_z_test,
    window_correlations,
)
from quantdesk.services.signal_producers.regime import (
    REGIME_LABELS,
    classify_regimes,
    expanding_zscore,
    rolling_rms,
    rolling_sum,
)
from quantdesk.services.signal_producers.sentiment import aggregate_sentiment
from quantdesk.services.signal_producers.volatility import (
    ewma_variance,
    garch_filter,
    garch_term_variances,
)
from support.closes_catalog import (
    MINUTE_NS,
    START_NS,
    EchoGarchFitter,
    InMemoryCloses,
    LengthScorer,
    ListHeadlines,
    minute_closes,
)

A, B = "AAA.SIM", "BBB.SIM"


def returns(n: int, seed: int, scale: float = 1e-3) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n) * scale


# numeric cores ---------------------------------------------------------------------------------


def test_ewma_matches_pandas_ewm_without_adjustment() -> None:
    r = returns(500, 1)
    expected = pd.Series(r * r).ewm(alpha=1 - 0.94, adjust=False).mean().to_numpy()
    np.testing.assert_allclose(ewma_variance(r, 0.94), expected, rtol=1e-12)


def test_rolling_sums_and_rms_match_pandas_rolling() -> None:
    r = returns(400, 2)
    np.testing.assert_allclose(
        rolling_sum(r, 20), pd.Series(r).rolling(20).sum().to_numpy(), rtol=1e-9, atol=1e-15
    )
    rms = np.sqrt(pd.Series(r * r).rolling(20).mean().to_numpy())
    np.testing.assert_allclose(rolling_rms(r, 20), rms, rtol=1e-9)
    assert np.isnan(rolling_sum(r, 20)[:19]).all()


def test_expanding_zscore_matches_pandas_expanding_moments() -> None:
    x = np.concatenate((np.full(5, np.nan), np.log(np.abs(returns(300, 3)) + 1e-4)))
    series = pd.Series(x)
    expected = (series - series.expanding().mean()) / series.expanding().std(ddof=1)
    expected[: 5 + 10 - 1] = np.nan
    np.testing.assert_allclose(expanding_zscore(x, 10), expected.to_numpy(), rtol=1e-8)


def test_regime_probabilities_follow_the_documented_formula() -> None:
    config = RegimeConfig(vol_window=10, trend_window=15, min_history=8)
    r = returns(200, 4)
    features = classify_regimes(r, config)
    s = pd.Series(r)
    log_rv = np.log(np.sqrt((s * s).rolling(10).mean()))
    vol_z = (log_rv - log_rv.expanding().mean()) / log_rv.expanding().std()
    trend_z = s.rolling(15).sum() / (np.sqrt((s * s).rolling(15).mean()) * math.sqrt(15))
    p_vol = 1 / (1 + np.exp(-2.0 * vol_z))
    p_bull = 1 / (1 + np.exp(-1.0 * trend_z))
    expected = np.column_stack(
        (p_bull * (1 - p_vol), p_bull * p_vol, (1 - p_bull) * (1 - p_vol), (1 - p_bull) * p_vol)
    )
    valid = slice(config.warmup_returns - 1, None)
    np.testing.assert_allclose(features.probabilities[valid], expected[valid], rtol=1e-7)
    assert np.isnan(features.probabilities[: config.warmup_returns - 1]).any(axis=1).all()
    sums = features.probabilities[valid].sum(axis=1)
    assert np.max(np.abs(sums - 1.0)) < 1e-12


def test_regime_labels_mean_what_they_say() -> None:
    config = RegimeConfig(vol_window=20, trend_window=20, min_history=50)
    calm = returns(300, 5, 1e-3)
    rally = np.full(40, 3e-4) + returns(40, 6, 1e-4)  # quiet and rising
    crash = -np.full(40, 5e-3) + returns(40, 7, 8e-3)  # loud and falling
    up = classify_regimes(np.concatenate((calm, rally)), config).probabilities[-1]
    down = classify_regimes(np.concatenate((calm, crash)), config).probabilities[-1]
    assert REGIME_LABELS[int(np.argmax(up))] == "bull_quiet"
    assert REGIME_LABELS[int(np.argmax(down))] == "bear_volatile"


def test_window_correlations_match_pandas_rolling_corr() -> None:
    x, y = returns(300, 8), returns(300, 9)
    y = 0.6 * x + 0.8 * y
    ends = np.arange(29, 300, dtype=np.int64)
    expected = pd.Series(x).rolling(30).corr(pd.Series(y)).to_numpy()[29:]
    np.testing.assert_allclose(window_correlations(x, y, ends, 30), expected, rtol=1e-9)


def test_window_correlation_of_a_flat_window_is_undefined() -> None:
    x = np.concatenate((np.zeros(10), returns(10, 10)))
    rho = window_correlations(x, returns(20, 11), np.array([9, 19], dtype=np.int64), 10)
    assert math.isnan(rho[0]) and math.isfinite(rho[1])


def test_fisher_z_test_matches_the_normal_distribution() -> None:
    current = np.array([0.8, 0.1, -0.5, 0.3])
    previous = np.array([0.2, 0.1, 0.4, 0.35])
    z, p = fisher_z_test(current, previous, 50, 70)
    expected_z = (np.arctanh(current) - np.arctanh(previous)) / math.sqrt(1 / 47 + 1 / 67)
    np.testing.assert_allclose(z, expected_z, rtol=1e-12)
    np.testing.assert_allclose(p, 2 * stats.norm.sf(np.abs(expected_z)), rtol=1e-9)
    assert p[1] == 1.0


def test_correlation_shift_is_current_minus_previous_window() -> None:
    x, y = returns(100, 12), returns(100, 13)
    ends = np.array([39, 59, 99], dtype=np.int64)
    shifts = correlation_shifts(x, y, ends, 20)
    for k, e in enumerate(ends.tolist()):
        now = np.corrcoef(x[e - 19 : e + 1], y[e - 19 : e + 1])[0, 1]
        before = np.corrcoef(x[e - 39 : e - 19], y[e - 39 : e - 19])[0, 1]
        assert shifts.change[k] == pytest.approx(now - before, abs=1e-12)


def test_garch_recursions_follow_their_definition() -> None:
    fit = GarchFit(omega=1e-7, alpha=0.08, beta=0.9, next_variance=2e-6, converged=True)
    r = returns(5, 14)
    v = 2e-6
    for x in r:
        v = 1e-7 + 0.08 * x * x + 0.9 * v
    assert garch_filter(fit, 2e-6, r) == pytest.approx(v, rel=1e-12)
    long_run = 1e-7 / (1 - 0.98)
    expected = [long_run + 0.98**k * (2e-6 - long_run) for k in range(10)]
    np.testing.assert_allclose(garch_term_variances(fit, 2e-6, 10), expected, rtol=1e-12)


def test_sentiment_windows_count_only_headlines_up_to_each_time() -> None:
    hts = np.array([100, 150, 300, 310, 900], dtype=np.int64)
    scores = np.array([0.5, -0.1, 0.9, 0.3, -0.8])
    emit = np.array([120, 200, 320, 400, 1000], dtype=np.int64)
    windows = aggregate_sentiment(hts, scores, emit, 100)
    # windows are (t - 100, t]: a headline exactly 100 before is out
    assert windows.count.tolist() == [1, 1, 2, 1, 0]
    assert windows.new.tolist() == [1, 1, 2, 0, 1]
    expected = [0.5, -0.1, 0.6, 0.3, np.nan]
    np.testing.assert_allclose(windows.score, expected, rtol=1e-12)


# producers ----------------------------------------------------------------------------------


def _service(n: int = 600, headlines: list[Headline] | None = None) -> SignalProducerService:
    catalog = InMemoryCloses()
    r = returns(n - 1, 20)
    catalog.put(A, *minute_closes(r))
    catalog.put(B, *minute_closes(0.5 * r + returns(n - 1, 21), start=50.0))
    return SignalProducerService(
        catalog.as_catalog(),
        EchoGarchFitter(),
        LengthScorer(),
        ListHeadlines(headlines or []),
        regime=RegimeConfig(vol_window=20, trend_window=20, min_history=30),
        ewma=EwmaConfig(min_returns=20),
        garch_config=GarchConfig(fit_window=200, min_fit_returns=100, refit_every=3),
        correlation=CorrelationConfig(window=50),
    )


HEADLINES = [
    Headline(START_NS + 30 * MINUTE_NS, A, "good news"),
    Headline(START_NS + 31 * MINUTE_NS + 5, A, "more good news"),
    Headline(START_NS + 200 * MINUTE_NS, A, "bad news"),
    Headline(START_NS + 201 * MINUTE_NS, B, "news about another instrument"),
]

RUNS = [
    ("regime", None, {}),
    ("volatility", "ewma", {}),
    ("volatility", "garch", {}),
    ("correlation", None, {"other_instrument_id": B}),
    ("sentiment", None, {"headlines": "unused.csv"}),
]


def _produce(
    service: SignalProducerService, kind: str, model: str | None, extra: dict[str, str]
) -> list[AISignal]:
    request = ProduceRequest(
        A,
        every=10,
        other_instrument_id=extra.get("other_instrument_id"),
        headlines=Path(extra["headlines"]) if "headlines" in extra else None,
    )
    return service.produce(kind, request, model)


def _context(service: SignalProducerService) -> SignalValidationContext:
    seen: set[str] = set()

    def duplicate(signal_id: str) -> bool:
        if signal_id in seen:
            return True
        seen.add(signal_id)
        return False

    return SignalValidationContext(
        now_ns=START_NS + 10_000 * MINUTE_NS,
        known_instruments={A, B},
        is_duplicate=duplicate,
        max_age_ns=dict(service.max_ages()),
    )


@pytest.mark.parametrize(("kind", "model", "extra"), RUNS)
def test_every_produced_signal_passes_validation(
    kind: str, model: str | None, extra: dict[str, str]
) -> None:
    """Property 17: the built-in producers speak the standard format."""
    service = _service(headlines=HEADLINES)
    signals = _produce(service, kind, model, extra)
    assert signals
    context = _context(service)
    for signal in signals:
        checked = validate_signal(signal.model_dump(mode="json"), context)
        assert isinstance(checked, AISignal), checked
        assert checked == signal


@pytest.mark.parametrize(("kind", "model", "extra"), RUNS)
def test_signals_are_deterministic_and_stamped_after_their_bar(
    kind: str, model: str | None, extra: dict[str, str]
) -> None:
    first = _produce(_service(headlines=HEADLINES), kind, model, extra)
    second = _produce(_service(headlines=HEADLINES), kind, model, extra)
    assert [s.canonical_json() for s in first] == [s.canonical_json() for s in second]
    ts = [s.ts_event for s in first]
    assert ts == sorted(ts) and len(set(ts)) == len(ts)
    assert len({s.signal_id for s in first}) == len(first)
    for s in first:
        assert uuid.UUID(s.signal_id).version == 5
        assert s.ts_init - s.ts_event == 1_000_000
        assert (s.ts_event - START_NS) % MINUTE_NS == 0  # on a bar close
        assert 0.0 <= s.confidence <= 1.0
        assert s.provenance.derived_from[0].startswith("bar_type:AAA.SIM-1-MINUTE-LAST")
        assert s.provenance.derived_from[-1].endswith(f"..{s.ts_event}")
    assert len({s.provenance.trace_id for s in first}) == 1


def test_regime_signals_carry_a_distribution_and_its_top_class() -> None:
    signals = _produce(_service(), "regime", None, {})
    assert signals[0].signal_type is SignalType.REGIME_PREDICTION
    for s in signals:
        assert isinstance(s.value, RegimeValue)
        probabilities = s.value.probabilities
        assert list(probabilities) == list(REGIME_LABELS)
        assert abs(math.fsum(probabilities.values()) - 1.0) <= 1e-9
        assert s.confidence == max(probabilities.values()) == probabilities[s.value.label]
    # first signal: the first bar with a full warm-up (20 + 30 - 1 returns), then every 10
    assert signals[0].ts_event == START_NS + (49 + 1) * MINUTE_NS
    assert signals[1].ts_event - signals[0].ts_event == 10 * MINUTE_NS


def test_a_longer_range_keeps_the_ids_of_the_signals_both_runs_share() -> None:
    service = _service()
    short = service.produce("regime", ProduceRequest(A, end_ns=START_NS + 300 * MINUTE_NS))
    full = service.produce("regime", ProduceRequest(A))
    assert [s.canonical_json() for s in short] == [s.canonical_json() for s in full[: len(short)]]
    assert len(full) > len(short)


def test_garch_refits_on_schedule_and_only_on_the_past() -> None:
    fitter = EchoGarchFitter()
    catalog = InMemoryCloses()
    catalog.put(A, *minute_closes(returns(599, 22)))
    service = SignalProducerService(
        catalog.as_catalog(),
        fitter,
        LengthScorer(),
        ListHeadlines([]),
        garch_config=GarchConfig(fit_window=200, min_fit_returns=100, refit_every=3),
    )
    signals = service.produce("volatility", ProduceRequest(A, every=10), "garch")
    # signals at bars 100, 110, ..., 590: refits at the 1st, 4th, 7th... on the last 200 returns
    assert len(signals) == 50
    assert fitter.fitted_lengths == [min(200, 100 + 30 * k) for k in range(17)]
    assert signals[0].metadata["fit_returns"] == "100"
    assert signals[1].metadata["fitted_through_ns"] == str(signals[0].ts_event)
    assert signals[0].provenance.model_version == "1+echo-1"


def test_sentiment_signals_appear_at_the_first_bar_close_after_news() -> None:
    signals = _produce(_service(headlines=HEADLINES), "sentiment", None, {"headlines": "x"})
    # headlines at minute 30 and 31 (+5 ns); every 10 bars -> bars at minutes 31, 41, ...
    # (bar k closes at minute k + 1): the first sees one headline, the next sees the second.
    scorer = LengthScorer()
    assert [s.metadata["headlines"] for s in signals] == ["1", "2", "1"]
    assert signals[0].ts_event == START_NS + 31 * MINUTE_NS
    assert signals[0].value.model_dump()["score"] == scorer.score(["good news"])[0]
    assert signals[1].confidence == 0.75
    assert signals[2].value.model_dump()["score"] == scorer.score(["bad news"])[0]


def test_not_enough_bars_says_how_many_are_needed_and_held() -> None:
    service = _service(n=40)
    with pytest.raises(InvalidInputError, match=r"regime needs at least 50 bars .* holds 40"):
        service.produce("regime", ProduceRequest(A))
    with pytest.raises(InvalidInputError, match=r"needs at least 101 bars"):
        service.produce("correlation", ProduceRequest(A, other_instrument_id=B))


def test_requests_that_cannot_be_served_are_refused_clearly() -> None:
    service = _service()
    with pytest.raises(NotFoundError, match=r"ZZZ\.SIM"):
        service.produce("regime", ProduceRequest("ZZZ.SIM"))
    with pytest.raises(InvalidInputError, match="--other"):
        service.produce("correlation", ProduceRequest(A))
    with pytest.raises(InvalidInputError, match="--headlines"):
        service.produce("sentiment", ProduceRequest(A))
    with pytest.raises(InvalidInputError, match="no producer"):
        service.produce("astrology", ProduceRequest(A))
    with pytest.raises(InvalidInputError, match="volatility only"):
        service.produce("regime", ProduceRequest(A), "garch")
    with pytest.raises(InvalidInputError, match="at least 1 bar"):
        service.produce("regime", ProduceRequest(A, every=0))


def test_declared_max_ages_cover_every_source_model() -> None:
    ages = _service().max_ages()
    assert set(ages) == {
        "quantdesk.regime.vol_trend",
        "quantdesk.volatility.ewma",
        "quantdesk.volatility.garch11",
        "quantdesk.correlation.fisher",
        "quantdesk.sentiment.headlines",
    }
    assert all(age >= 1_000_000 for age in ages.values())
