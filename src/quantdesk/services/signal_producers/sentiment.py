"""Sentiment: news headlines about an instrument, scored by a lexicon model, at bar closes.

Headlines come from a file (port ``HeadlineSource``: timestamp, instrument, text) and each is
scored once in [-1, 1] (port ``SentimentScorer``: VADER's compound score in the adapter). At
every ``every``-th bar close (default: every bar) that saw at least one new headline about the
instrument since the previous such bar, a signal carries the mean score of the headlines of
the last ``lookback_ns`` (default one hour) up to and including the bar's close. A headline
stamped after the close is never used, so news cannot leak backwards.

``confidence = 1 - 0.5 ** n`` for ``n`` headlines in the look-back: one headline 0.5, two
0.75, three 0.875. It says how much news the view rests on; how strong the view is, is the
score itself.
"""

from dataclasses import dataclass

import numpy as np

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.signals import AISignal, SentimentValue, SignalType
from quantdesk.services.columns import Float64Array, Int64Array
from quantdesk.services.ports import HeadlineSource, MarketDataCatalog, SentimentScorer
from quantdesk.services.signal_producers.base import (
    DEFAULT_LATENCY_NS,
    ProduceRequest,
    SignalStamp,
    emission_indices,
    load_enough_closes,
)

HOUR_NS = 3_600_000_000_000


@dataclass(frozen=True)
class SentimentConfig:
    lookback_ns: int = HOUR_NS

    def __post_init__(self) -> None:
        if self.lookback_ns <= 0:
            raise ValueError("lookback_ns must be > 0")


@dataclass(frozen=True, eq=False)
class SentimentWindows:
    """Per emission time: mean score and counts of the look-back window; NaN score if empty."""

    score: Float64Array
    count: Int64Array
    new: Int64Array  # headlines since the previous emission time (or in the first look-back)


def aggregate_sentiment(
    headline_ts: Int64Array, scores: Float64Array, emission_ts: Int64Array, lookback_ns: int
) -> SentimentWindows:
    """The pure core; ``headline_ts`` sorted ascending, ``scores`` aligned with it."""
    hi = np.searchsorted(headline_ts, emission_ts, side="right")
    lo = np.searchsorted(headline_ts, emission_ts - lookback_ns, side="right")
    previous_hi = np.concatenate((lo[:1], hi[:-1]))
    count = (hi - lo).astype(np.int64)
    new = (hi - previous_hi).astype(np.int64)
    score = np.full(emission_ts.shape[0], np.nan)
    for k in np.flatnonzero(count > 0).tolist():
        score[k] = float(np.mean(scores[lo[k] : hi[k]]))
    return SentimentWindows(score=np.clip(score, -1.0, 1.0), count=count, new=new)


class SentimentProducer:
    """Headline sentiment for one instrument at bar closes with new news."""

    name = "sentiment"
    signal_type = SignalType.SENTIMENT
    source_model = "quantdesk.sentiment.headlines"
    max_age_ns = 900_000_000_000  # 15 minutes
    latency_ns = DEFAULT_LATENCY_NS
    default_every = 1

    def __init__(
        self,
        catalog: MarketDataCatalog,
        source: HeadlineSource,
        scorer: SentimentScorer,
        config: SentimentConfig | None = None,
    ) -> None:
        self._catalog = catalog
        self._source = source
        self._scorer = scorer
        self._config = config or SentimentConfig()
        self.model_version = f"1+{scorer.model_version}"

    def produce(self, request: ProduceRequest) -> list[AISignal]:
        if request.headlines is None:
            raise InvalidInputError("sentiment needs a headlines file (--headlines FILE)")
        spec = request.spec()
        every = request.cadence(self.default_every)
        series = load_enough_closes(
            self._catalog, request, spec, self.name, 1, "a bar to stamp signals at"
        )
        feed = self._source.read_headlines(request.headlines)
        mine = sorted(
            (h for h in feed.headlines if h.instrument_id == request.instrument_id),
            key=lambda h: (h.ts_ns, h.text),
        )
        headline_ts = np.array([h.ts_ns for h in mine], dtype=np.int64)
        scores = np.array(self._scorer.score([h.text for h in mine]), dtype=np.float64)
        bars = emission_indices(len(series), 0, every)
        windows = aggregate_sentiment(
            headline_ts, scores, series.ts_ns[bars], self._config.lookback_ns
        )
        parameters = {"lookback_ns": self._config.lookback_ns, "every": every}
        stamp = SignalStamp.for_series(
            self, request, parameters, series, f"headlines:{feed.source_id}"
        )
        signals = []
        for k, t in enumerate(bars.tolist()):
            n = int(windows.count[k])
            if windows.new[k] == 0 or n == 0:
                continue
            ts_event = int(series.ts_ns[t])
            signals.append(
                stamp.signal(
                    ts_event=ts_event,
                    first_used_ns=ts_event,
                    value=SentimentValue(score=float(windows.score[k])),
                    confidence=1.0 - 0.5**n,
                    metadata={"headlines": str(n), "new_headlines": str(int(windows.new[k]))},
                )
            )
        return signals
