"""VADER sentiment (``vaderSentiment``): a lexicon and rule model tuned for short news text."""

import importlib.metadata
from collections.abc import Sequence

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


class VaderSentimentScorer:
    """VADER's ``compound`` score in [-1, 1]; the lexicon ships inside the package.

    The analyzer (which reads the lexicon file) is built on the first score, so composing the
    platform costs nothing.
    """

    def __init__(self) -> None:
        self._analyzer: SentimentIntensityAnalyzer | None = None

    @property
    def model_version(self) -> str:
        return f"vader-{importlib.metadata.version('vaderSentiment')}"

    def score(self, texts: Sequence[str]) -> list[float]:
        if self._analyzer is None:
            self._analyzer = SentimentIntensityAnalyzer()
        analyzer = self._analyzer
        return [float(analyzer.polarity_scores(text)["compound"]) for text in texts]
