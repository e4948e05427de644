"""An in-memory stand-in for the catalog's read side: closes per bar type, for producer tests."""

from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np

from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.market_data import BarSpec, bar_type_id
from quantdesk.services.columns import Float64Array, Int64Array
from quantdesk.services.ports import GarchFit, Headline, HeadlineFeed, MarketDataCatalog

MINUTE_NS = 60_000_000_000
START_NS = 1_704_067_200_000_000_000


class InMemoryCloses:
    """Implements only what producers read: ``instrument`` and ``read_closes``."""

    def __init__(self) -> None:
        self._series: dict[str, tuple[Int64Array, Float64Array]] = {}
        self._instruments: set[str] = set()

    def put(self, instrument_id: str, ts_ns: Int64Array, close: Float64Array) -> None:
        self._instruments.add(instrument_id)
        bar_type = bar_type_id(instrument_id, BarSpec.parse("1-MINUTE-LAST"))
        self._series[bar_type] = (np.asarray(ts_ns, np.int64), np.asarray(close, np.float64))

    def instrument(self, instrument_id: str) -> InstrumentSpec | None:
        return cast(InstrumentSpec, object()) if instrument_id in self._instruments else None

    def read_closes(
        self, bar_type: str, start_ns: int, end_ns: int
    ) -> tuple[Int64Array, Float64Array]:
        ts, close = self._series.get(bar_type, (np.empty(0, np.int64), np.empty(0)))
        keep = (ts >= start_ns) & (ts <= end_ns)
        return ts[keep].copy(), close[keep].copy()

    def as_catalog(self) -> MarketDataCatalog:
        return cast(MarketDataCatalog, self)


def minute_closes(returns: Float64Array, start: float = 100.0) -> tuple[Int64Array, Float64Array]:
    """Closes from log returns (one more bar than returns), a bar a minute from 2024-01-01."""
    close = start * np.exp(np.concatenate(([0.0], np.cumsum(returns))))
    ts = START_NS + MINUTE_NS * np.arange(1, close.shape[0] + 1, dtype=np.int64)
    return ts, close


class EchoGarchFitter:
    """A stand-in fitter whose result depends on every return it is given (and nothing else).

    So a producer that handed it a return after the signal's bar would change the signal.
    """

    model_version = "echo-1"

    def __init__(self) -> None:
        self.fitted_lengths: list[int] = []

    def fit(self, returns: Float64Array) -> GarchFit:
        self.fitted_lengths.append(int(returns.shape[0]))
        weights = np.arange(1, returns.shape[0] + 1, dtype=np.float64)
        mix = float(np.abs(np.sum(returns * weights)))
        variance = float(np.mean(returns * returns))
        return GarchFit(
            omega=variance * 0.05,
            alpha=0.05 + min(mix, 1.0) * 0.01,
            beta=0.9,
            next_variance=variance * (1.0 + min(mix, 1.0)),
            converged=True,
        )


class LengthScorer:
    """A stand-in sentiment model: a deterministic score from the text's characters."""

    model_version = "length-1"

    def score(self, texts: Sequence[str]) -> list[float]:
        return [((sum(map(ord, t)) % 2001) - 1000) / 1000.0 for t in texts]


class ListHeadlines:
    """A stand-in headline source: the same headlines whatever the path."""

    def __init__(self, headlines: Sequence[Headline]) -> None:
        self.headlines = tuple(headlines)

    def read_headlines(self, path: Path) -> HeadlineFeed:
        return HeadlineFeed(source_id=f"memory:{len(self.headlines)}", headlines=self.headlines)
