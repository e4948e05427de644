"""What signal producers need: a GARCH fitter, headline files, a sentiment scorer."""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from quantdesk.services.columns import Float64Array


@dataclass(frozen=True)
class GarchFit:
    """GARCH(1,1) with zero mean, in the units of the returns it was fitted on.

    ``sigma2[t+1] = omega + alpha * r[t]^2 + beta * sigma2[t]``; ``next_variance`` is the
    one-step forecast after the last return of the fit.
    """

    omega: float
    alpha: float
    beta: float
    next_variance: float
    converged: bool


class GarchFitter(Protocol):
    """Fits GARCH(1,1) by maximum likelihood (the ``arch`` package in the adapter)."""

    @property
    def model_version(self) -> str: ...

    def fit(self, returns: Float64Array) -> GarchFit:
        """Fit on exactly these returns, oldest first; nothing else is seen."""
        ...


@dataclass(frozen=True)
class Headline:
    ts_ns: int
    instrument_id: str
    text: str


@dataclass(frozen=True)
class HeadlineFeed:
    """Headlines of one file, oldest first; ``source_id`` names the file and its checksum."""

    source_id: str
    headlines: tuple[Headline, ...]


class HeadlineSource(Protocol):
    def read_headlines(self, path: Path) -> HeadlineFeed:
        """Raise ``SourceReadError`` naming the line when the file cannot be read."""
        ...


class SentimentScorer(Protocol):
    """Scores text in [-1, 1] (negative to positive), deterministically."""

    @property
    def model_version(self) -> str: ...

    def score(self, texts: Sequence[str]) -> list[float]: ...
