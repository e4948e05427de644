"""Built-in AI-signal producers: real computations on catalog bars (and headline files).

One module per producer; each holds its pure numeric core (numpy only, tested against an
independent computation) and the producer class that turns it into ``AISignal``s.
"""

from quantdesk.services.signal_producers.base import ProduceRequest, SignalProducer
from quantdesk.services.signal_producers.correlation import (
    CorrelationConfig,
    CorrelationShiftProducer,
)
from quantdesk.services.signal_producers.regime import RegimeConfig, RegimeProducer
from quantdesk.services.signal_producers.sentiment import SentimentConfig, SentimentProducer
from quantdesk.services.signal_producers.service import (
    ProducerKind,
    SignalProducerService,
    VolatilityModel,
)
from quantdesk.services.signal_producers.volatility import (
    EwmaConfig,
    EwmaVolatilityProducer,
    GarchConfig,
    GarchVolatilityProducer,
)

__all__ = [
    "CorrelationConfig",
    "CorrelationShiftProducer",
    "EwmaConfig",
    "EwmaVolatilityProducer",
    "GarchConfig",
    "GarchVolatilityProducer",
    "ProduceRequest",
    "ProducerKind",
    "RegimeConfig",
    "RegimeProducer",
    "SentimentConfig",
    "SentimentProducer",
    "SignalProducer",
    "SignalProducerService",
    "VolatilityModel",
]
