"""Runs a built-in producer by name over the catalog: what the CLI and Python users call."""

from collections.abc import Mapping
from enum import StrEnum

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.signals import AISignal
from quantdesk.services.ports import (
    GarchFitter,
    HeadlineSource,
    MarketDataCatalog,
    SentimentScorer,
)
from quantdesk.services.signal_producers.base import ProduceRequest, SignalProducer
from quantdesk.services.signal_producers.correlation import (
    CorrelationConfig,
    CorrelationShiftProducer,
)
from quantdesk.services.signal_producers.regime import RegimeConfig, RegimeProducer
from quantdesk.services.signal_producers.sentiment import SentimentConfig, SentimentProducer
from quantdesk.services.signal_producers.volatility import (
    EwmaConfig,
    EwmaVolatilityProducer,
    GarchConfig,
    GarchVolatilityProducer,
)


class ProducerKind(StrEnum):
    REGIME = "regime"
    VOLATILITY = "volatility"
    CORRELATION = "correlation"
    SENTIMENT = "sentiment"


class VolatilityModel(StrEnum):
    EWMA = "ewma"
    GARCH = "garch"


class SignalProducerService:
    """The built-in producers, configured once; ``produce`` picks one by kind."""

    def __init__(
        self,
        catalog: MarketDataCatalog,
        garch: GarchFitter,
        scorer: SentimentScorer,
        headlines: HeadlineSource,
        *,
        regime: RegimeConfig | None = None,
        ewma: EwmaConfig | None = None,
        garch_config: GarchConfig | None = None,
        correlation: CorrelationConfig | None = None,
        sentiment: SentimentConfig | None = None,
    ) -> None:
        self._regime = RegimeProducer(catalog, regime)
        self._ewma = EwmaVolatilityProducer(catalog, ewma)
        self._garch = GarchVolatilityProducer(catalog, garch, garch_config)
        self._correlation = CorrelationShiftProducer(catalog, correlation)
        self._sentiment = SentimentProducer(catalog, headlines, scorer, sentiment)

    def producer(
        self, kind: ProducerKind | str, model: VolatilityModel | str | None = None
    ) -> SignalProducer:
        try:
            chosen = ProducerKind(kind)
        except ValueError:
            raise InvalidInputError(
                f"no producer {kind!r}", hint=f"one of {', '.join(k.value for k in ProducerKind)}"
            ) from None
        if chosen is not ProducerKind.VOLATILITY:
            if model is not None:
                raise InvalidInputError(f"--model applies to volatility only, not to {kind}")
            others: dict[ProducerKind, SignalProducer] = {
                ProducerKind.REGIME: self._regime,
                ProducerKind.CORRELATION: self._correlation,
                ProducerKind.SENTIMENT: self._sentiment,
            }
            return others[chosen]
        try:
            volatility = VolatilityModel(model or VolatilityModel.EWMA)
        except ValueError:
            raise InvalidInputError(
                f"no volatility model {model!r}",
                hint=f"one of {', '.join(m.value for m in VolatilityModel)}",
            ) from None
        return self._ewma if volatility is VolatilityModel.EWMA else self._garch

    def produce(
        self,
        kind: ProducerKind | str,
        request: ProduceRequest,
        model: VolatilityModel | str | None = None,
    ) -> list[AISignal]:
        """Signals in ``ts_event`` order, each already a valid ``AISignal``."""
        return self.producer(kind, model).produce(request)

    def producers(self) -> list[SignalProducer]:
        return [self._regime, self._ewma, self._garch, self._correlation, self._sentiment]

    def max_ages(self) -> Mapping[str, int]:
        """Declared max age per ``source_model``: for ``SignalValidationContext.max_age_ns``."""
        return {p.source_model: p.max_age_ns for p in self.producers()}
