"""The engine's form of an ``AISignal``: one custom data type for backtest replay and live.

A strategy subscribes to ``DataType(AISignalData)`` and receives these in ``on_data`` whether
they were replayed from the catalog (interleaved with bars by ``ts_init``) or published live
by the router. The decorator only takes flat field types, so the whole domain signal travels
as its canonical JSON in ``payload``; the other fields are copies for the engine (directory by
instrument) and for filtering without decoding (``signal_type``, ``confidence``).

No ``from __future__ import annotations`` here: the decorator reads real annotation types.
"""

from nautilus_trader.core.data import Data
from nautilus_trader.model.custom import customdataclass
from nautilus_trader.model.data import CustomData, DataType
from nautilus_trader.model.identifiers import ClientId, InstrumentId

from quantdesk.domain.signals import AISignal

SIGNAL_CLIENT_ID = "QUANTDESK-SIGNALS"
"""The ``client_id`` of the signal data configs in backtests, and of live subscriptions."""

SIGNAL_DATA_PATH = "quantdesk.adapters.nautilus.signal_data:AISignalData"
"""``BacktestDataConfig.data_cls`` for replaying signals from the catalog."""

SIGNAL_USED_TOPIC = "quantdesk.signals.used"
"""A strategy publishes a ``SignalUse`` here for every signal it hands to ``on_signal``."""

SIGNAL_DECISION_TOPIC = "quantdesk.signals.decision"
"""A strategy publishes a ``SignalDecision`` here for every order it takes on a signal."""

SIGNAL_TAG_PREFIX = "signal:"
"""Order tag naming the signal an order was taken on (``signal:<signal_id>``)."""


def signal_tag(signal_id: str) -> str:
    return SIGNAL_TAG_PREFIX + signal_id


@customdataclass
class AISignalData(Data):
    """An ``AISignal`` as NautilusTrader custom data (``payload`` is its canonical JSON)."""

    instrument_id: InstrumentId = InstrumentId.from_str("NONE.NONE")
    signal_id: str = ""
    signal_type: str = ""
    confidence: float = 0.0
    source_model: str = ""
    payload: str = ""


def to_signal_data(signal: AISignal) -> AISignalData:
    return AISignalData(
        ts_event=signal.ts_event,
        ts_init=signal.ts_init,
        instrument_id=InstrumentId.from_str(signal.instrument_id),
        signal_id=signal.signal_id,
        signal_type=signal.signal_type.value,
        confidence=signal.confidence,
        source_model=signal.source_model,
        payload=signal.canonical_json(),
    )


def from_signal_data(data: AISignalData | CustomData) -> AISignal:
    """The domain signal back, exactly: the payload is the source of truth."""
    inner = data.data if isinstance(data, CustomData) else data
    return AISignal.model_validate_json(inner.payload)


def signal_data_type() -> DataType:
    return DataType(AISignalData)


def signal_client_id() -> ClientId:
    return ClientId(SIGNAL_CLIENT_ID)
