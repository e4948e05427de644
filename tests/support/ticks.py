"""Tick fixtures: an instrument, columns built from rows, files, and the engine's read-back."""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path

import numpy as np

from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.ticks import TICK_FIELDS, TickKind
from quantdesk.services.tick_columns import FIELD_DTYPES, RawTicks

T0 = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z
INSTRUMENT = "BTCUSDT.BINANCE"


def crypto() -> InstrumentSpec:
    """Prices in cents, sizes in thousandths (BTCUSDT-like)."""
    return InstrumentSpec(
        instrument_id=INSTRUMENT,
        asset_class=AssetClass.CRYPTO_SPOT,
        currency="USDT",
        base_currency="BTC",
        tick_size=Decimal("0.01"),
        size_increment=Decimal("0.001"),
    )


def raw_ticks(kind: TickKind, rows: Sequence[Mapping[str, object]]) -> RawTicks:
    """Already-parsed cells (codes as ints, ``ts`` as ns) wrapped for the rules."""
    n = len(rows)
    values = {
        name: np.array([row[name] for row in rows], dtype=FIELD_DTYPES[name])
        for name in TICK_FIELDS[kind][1:]
    }

    def text_of(field: str, index: int) -> str:
        key = "ts" if field == "timestamp" else field
        return str(rows[index][key])

    return RawTicks(
        kind=kind,
        source_row=np.arange(2, n + 2, dtype=np.int64),
        ts_ns=np.array([row["ts"] for row in rows], dtype=np.int64),
        ts_status=np.array([row.get("status", 0) for row in rows], dtype=np.uint8),
        values=values,
        unparsed={},
        text_of=text_of,
    )


def write_rows(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    lines = [",".join(header), *(",".join(str(v) for v in row) for row in rows)]
    path.write_text("\n".join(lines) + "\n")
    return path
