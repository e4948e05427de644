"""Signals for tests: valid raw records of every type, and a desk-less signal stack."""

import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quantdesk.adapters.messaging.in_process import InProcessSignalBus
from quantdesk.adapters.nautilus.signal_store import ParquetSignalStore
from quantdesk.adapters.storage.signal_files import (
    JsonLinesDeadLetterStore,
    JsonLinesRejectStore,
    JsonLinesSignalEventLog,
)
from quantdesk.domain.signals import AISignal, SignalValidationContext, validate_signal
from quantdesk.services.ports import SignalBus
from quantdesk.services.signal_routing import RetryPolicy, SignalRouter
from quantdesk.services.signals import SignalGate

NOW_NS = 1_704_067_200_000_000_000  # 2024-01-01T00:00Z
INSTRUMENTS = ("ACME.XNAS", "BTCUSDT.BINANCE", "EUR/USD.SIM")


def raw_signal(
    signal_type: str = "SENTIMENT",
    instrument_id: str = "ACME.XNAS",
    ts_event: int = NOW_NS - 60_000_000_000,
    lag_ns: int = 1_000_000_000,
    **overrides: Any,
) -> dict[str, Any]:
    values: dict[str, dict[str, Any]] = {
        "SENTIMENT": {"score": 0.25},
        "REGIME_PREDICTION": {"label": "bull", "probabilities": {"bull": 0.7, "bear": 0.3}},
        "VOLATILITY_FORECAST": {"annualized_volatility": 0.2, "horizon_ns": 86_400_000_000_000},
        "CORRELATION_SHIFT": {"other_instrument_id": "BTCUSDT.BINANCE", "change": -0.4},
    }
    record: dict[str, Any] = {
        "signal_id": str(uuid.uuid4()),
        "signal_type": signal_type,
        "instrument_id": instrument_id,
        "ts_event": ts_event,
        "ts_init": ts_event + lag_ns,
        "confidence": 0.7,
        "value": values[signal_type],
        "source_model": "test-model",
        "metadata": {"note": "test"},
        "provenance": {"trace_id": "trace-1", "producer": "tests", "model_version": "1"},
    }
    record.update(overrides)
    return record


def signal(**kwargs: Any) -> AISignal:
    """A valid signal, built through the gate's own shape rules."""
    context = SignalValidationContext(
        now_ns=NOW_NS + 10**18, known_instruments=INSTRUMENTS, is_duplicate=lambda _: False
    )
    made = validate_signal(raw_signal(**kwargs), context)
    assert isinstance(made, AISignal), made
    return made


@dataclass
class Stack:
    store: ParquetSignalStore
    gate: SignalGate
    router: SignalRouter
    dead_letters: JsonLinesDeadLetterStore
    events: JsonLinesSignalEventLog
    delays: list[float]


def stack(
    root: Path,
    *,
    bus: SignalBus | None = None,
    seed: int = 7,
    max_attempts: int = 3,
    flush_every: int = 50_000,
) -> Stack:
    store = ParquetSignalStore(root / "catalog", flush_every=flush_every)
    gate = SignalGate(store, set(INSTRUMENTS), clock=lambda: NOW_NS)
    dead_letters = JsonLinesDeadLetterStore(root / "signals" / "dead_letters.jsonl")
    events = JsonLinesSignalEventLog(root / "signals" / "events")
    delays: list[float] = []

    async def no_wait(delay: float) -> None:
        delays.append(delay)

    router = SignalRouter(
        gate,
        store,
        bus or InProcessSignalBus(),
        events,
        dead_letters,
        JsonLinesRejectStore(root / "signals" / "rejects"),
        clock=lambda: NOW_NS,
        policy=RetryPolicy(max_attempts=max_attempts, base_delay_s=0.01, max_delay_s=0.1),
        rng=random.Random(seed),
        sleep=no_wait,
    )
    return Stack(store, gate, router, dead_letters, events, delays)
