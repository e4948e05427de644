"""Markets and read-backs for the multi-instrument family tests (rotation, pairs).

``gapped_market`` adds to a synthetic market one more instrument with holes in its minute
bars, so the families' rule for incomplete cross-sections is exercised on real runs. The
read-backs (closes joined on time, positions from fills) are computed here independently
of the strategies under test.
"""

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest_records import FillRecord
from quantdesk.domain.market_data import BarSpec
from quantdesk.services.columns import RawBarColumns
from quantdesk.services.ports import RunArtifacts
from quantdesk.services.synthetic import (
    SyntheticMarketConfig,
    generate_market,
    synthetic_instrument,
)

GAPPED = "SYN04.SIM"
GAPS = (slice(300, 307), slice(1_000, 1_001), slice(2_500, 2_540))
"""Bar indices SYN04 lacks: a 7-minute hole, a single missing minute, a 40-minute halt."""


def gapped_market(home: Path, seed: int) -> None:
    """SYN01..SYN03 of ``seed`` (3 days of minute bars) plus SYN04 with the ``GAPS``."""
    desk = bootstrap(home=home)
    desk.synthetic.synthesize(SyntheticMarketConfig(instruments=3, days=3, seed=seed))
    series = generate_market(SyntheticMarketConfig(instruments=4, days=3, seed=seed))[3]
    keep = np.ones(len(series.bars), dtype=bool)
    for gap in GAPS:
        keep[gap] = False
    instrument = synthetic_instrument(3)
    assert instrument.instrument_id == GAPPED
    desk.instruments.add(instrument)
    bars = series.bars.take(keep)
    desk.ingest.ingest_columns(
        RawBarColumns.from_bars(bars),
        instrument=instrument,
        bar_spec=BarSpec.parse("1-MINUTE-LAST"),
        source=f"tests: synthetic seed {seed} instrument 4 with gaps",
        source_sha256=hashlib.sha256(bars.ts_ns.tobytes() + bars.close.tobytes()).hexdigest(),
    )


def joined_closes(artifacts: RunArtifacts, instruments: Sequence[str]) -> pd.DataFrame:
    """Closes per instrument (columns) on the timestamps every instrument has (inner join)."""
    columns = {
        i: pd.Series(artifacts.prices[i][1], index=artifacts.prices[i][0]) for i in instruments
    }
    return pd.concat(columns, axis=1, join="inner").sort_index()


def positions(
    fills: Iterable[FillRecord], instruments: Sequence[str], ts: pd.Index
) -> pd.DataFrame:
    """Each instrument's net position after every fill at or before each of ``ts``."""
    frame = pd.DataFrame(
        [(f.ts_ns, f.instrument_id, f.side * f.quantity) for f in fills],
        columns=["ts", "instrument", "signed"],
    )
    out = {}
    for instrument in instruments:
        mine = frame[frame.instrument == instrument].groupby("ts")["signed"].sum().cumsum()
        out[instrument] = mine.reindex(mine.index.union(ts)).ffill().fillna(0.0).reindex(ts)
    return pd.DataFrame(out, index=ts)


def orders_digest(fills: Iterable[FillRecord]) -> str:
    """sha256 of the ordered fills as (side, quantity, price, ts): a family's golden master."""
    text = "\n".join(f"{f.side},{f.quantity!r},{f.price!r},{f.ts_ns}" for f in fills)
    return hashlib.sha256(text.encode()).hexdigest()
