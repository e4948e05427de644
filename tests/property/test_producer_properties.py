"""Built-in producers see no future: changing anything after time T never changes a signal
stamped at or before T (issue 5, item 7). And Property 17 for the regime model: its class
probabilities always form a distribution, whatever the returns."""

import math
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from quantdesk.domain.signals import AISignal
from quantdesk.services.ports import Headline
from quantdesk.services.signal_producers import (
    CorrelationConfig,
    EwmaConfig,
    GarchConfig,
    ProduceRequest,
    RegimeConfig,
    SentimentConfig,
    SignalProducerService,
)
from quantdesk.services.signal_producers.correlation import correlation_shifts
from quantdesk.services.signal_producers.regime import classify_regimes, regime_value
from quantdesk.services.signal_producers.volatility import ewma_variance
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
N_RETURNS = 90
small_returns = arrays(
    np.float64, N_RETURNS, elements=st.floats(-0.02, 0.02, allow_nan=False, width=64)
)
RUNS = (
    ("regime", None),
    ("volatility", "ewma"),
    ("volatility", "garch"),
    ("correlation", None),
)


def _service(
    a: np.ndarray, b: np.ndarray, headlines: list[Headline] | None = None
) -> SignalProducerService:
    catalog = InMemoryCloses()
    catalog.put(A, *minute_closes(a))
    catalog.put(B, *minute_closes(b, start=40.0))
    return SignalProducerService(
        catalog.as_catalog(),
        EchoGarchFitter(),
        LengthScorer(),
        ListHeadlines(headlines or []),
        regime=RegimeConfig(vol_window=5, trend_window=7, min_history=6),
        ewma=EwmaConfig(min_returns=5),
        garch_config=GarchConfig(fit_window=30, min_fit_returns=15, refit_every=2),
        correlation=CorrelationConfig(window=8),
    )


def _up_to(signals: list[AISignal], cut_ns: int) -> list[str]:
    return [s.canonical_json() for s in signals if s.ts_event <= cut_ns]


@settings(max_examples=100, deadline=None)
@given(
    a=small_returns,
    b=small_returns,
    noise_a=small_returns,
    noise_b=small_returns,
    cut=st.integers(0, N_RETURNS - 1),
    every=st.integers(1, 7),
)
def test_perturbing_bars_after_t_never_changes_a_signal_at_or_before_t(
    a: np.ndarray,
    b: np.ndarray,
    noise_a: np.ndarray,
    noise_b: np.ndarray,
    cut: int,
    every: int,
) -> None:
    # returns from index ``cut`` on end at bars after ``cut``: those bars change, none before
    a2, b2 = a.copy(), b.copy()
    a2[cut:] += noise_a[cut:] + 0.001
    b2[cut:] -= noise_b[cut:] + 0.001
    cut_ns = START_NS + (cut + 1) * MINUTE_NS  # close time of bar ``cut``
    request = ProduceRequest(A, every=every, other_instrument_id=B)
    original, perturbed = _service(a, b), _service(a2, b2)
    for kind, model in RUNS:
        before = original.produce(kind, request, model)
        after = perturbed.produce(kind, request, model)
        assert _up_to(before, cut_ns) == _up_to(after, cut_ns), (kind, model)


headline = st.builds(
    Headline,
    ts_ns=st.integers(START_NS - 60 * MINUTE_NS, START_NS + 100 * MINUTE_NS),
    instrument_id=st.sampled_from([A, B]),
    text=st.text(min_size=1, max_size=12),
)


@settings(max_examples=100, deadline=None)
@given(
    headlines=st.lists(headline, max_size=25),
    later=st.lists(headline, max_size=10),
    cut=st.integers(0, N_RETURNS),
    every=st.integers(1, 9),
    lookback_minutes=st.integers(1, 90),
)
def test_news_after_t_never_changes_a_sentiment_signal_at_or_before_t(
    headlines: list[Headline],
    later: list[Headline],
    cut: int,
    every: int,
    lookback_minutes: int,
) -> None:
    cut_ns = START_NS + (cut + 1) * MINUTE_NS
    known = [h for h in headlines if h.ts_ns <= cut_ns]
    rewritten = [
        *known,
        *(Headline(h.ts_ns, h.instrument_id, h.text + "!") for h in headlines if h.ts_ns > cut_ns),
        *(Headline(max(h.ts_ns, cut_ns + 1), h.instrument_id, h.text) for h in later),
    ]
    flat = np.zeros(N_RETURNS)
    request = ProduceRequest(A, every=every, headlines=Path("feed.csv"))
    signals = []
    for feed in (headlines, rewritten):
        catalog = InMemoryCloses()
        catalog.put(A, *minute_closes(flat))
        service = SignalProducerService(
            catalog.as_catalog(),
            EchoGarchFitter(),
            LengthScorer(),
            ListHeadlines(feed),
            sentiment=SentimentConfig(lookback_ns=lookback_minutes * MINUTE_NS),
        )
        signals.append(service.produce("sentiment", request))
    before, after = signals
    # the feed's source id differs (its length), so compare everything but identity
    strip = [_content(s) for s in before if s.ts_event <= cut_ns]
    assert strip == [_content(s) for s in after if s.ts_event <= cut_ns]


def _content(signal: AISignal) -> tuple[object, ...]:
    return (signal.ts_event, signal.ts_init, signal.confidence, signal.value, signal.metadata)


@settings(max_examples=100, deadline=None)
@given(
    r=arrays(
        np.float64,
        st.integers(20, 80),
        elements=st.one_of(st.just(0.0), st.floats(-0.5, 0.5, allow_nan=False, width=64)),
    ),
    cut=st.integers(0, 79),
)
def test_numeric_cores_use_only_the_prefix(r: np.ndarray, cut: int) -> None:
    cut = min(cut, r.shape[0] - 1)
    changed = r.copy()
    changed[cut + 1 :] = changed[cut + 1 :] * -3.0 + 0.01
    config = RegimeConfig(vol_window=4, trend_window=5, min_history=3)
    keep = slice(0, cut + 1)
    np.testing.assert_array_equal(ewma_variance(r, 0.9)[keep], ewma_variance(changed, 0.9)[keep])
    np.testing.assert_array_equal(
        classify_regimes(r, config).probabilities[keep],
        classify_regimes(changed, config).probabilities[keep],
    )
    ends = np.arange(7, cut + 1, dtype=np.int64)
    x, y = (
        correlation_shifts(r, r[::-1].copy(), ends, 4),
        correlation_shifts(changed, r[::-1].copy(), ends, 4),
    )
    np.testing.assert_array_equal(x.change, y.change)


@settings(max_examples=100, deadline=None)
@given(
    r=arrays(
        np.float64,
        st.integers(10, 60),
        elements=st.one_of(st.just(0.0), st.floats(-1.0, 1.0, allow_nan=False, width=64)),
    ),
    sharpness=st.floats(0.01, 50.0),
)
def test_regime_probabilities_always_form_a_distribution(r: np.ndarray, sharpness: float) -> None:
    """Property 17: every regime value is a valid distribution, even for flat or wild data."""
    config = RegimeConfig(
        vol_window=3,
        trend_window=4,
        min_history=2,
        vol_sharpness=sharpness,
        trend_sharpness=sharpness,
    )
    probabilities = classify_regimes(r, config).probabilities
    for row in probabilities[config.warmup_returns - 1 :]:
        assert np.all(np.isfinite(row))
        value, confidence = regime_value(row)
        assert abs(math.fsum(value.probabilities.values()) - 1.0) <= 1e-9
        assert 0.0 <= confidence <= 1.0
