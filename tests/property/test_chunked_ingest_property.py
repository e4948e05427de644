"""Property 30 in chunks: a file ingested a chunk at a time ends exactly as ingested whole.

Random CSV and Parquet files (bad cells, twins of an instant, rows out of order, malformed
and blank lines, epoch or ISO timestamps under ``auto``) go into catalogs already holding
some of their rows (some with other values), once with one chunk and once with a random
chunk size down to one row, and with small or large catalog files: the catalogs then hold
the same files and bars, and the summaries, lineage and rejects files are the same.
"""

import tempfile
from decimal import Decimal
from pathlib import Path
from unittest import mock

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantdesk.adapters.nautilus.catalog import ParquetCatalog
from quantdesk.adapters.sources.bar_files import BarFileSource
from quantdesk.domain.errors import NothingValidError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.time import TS_MAX_NS
from quantdesk.services.ingest import BarIngestService
from support.bars import MINUTE_NS, T0, iso

EQUITY = InstrumentSpec(
    instrument_id="ACME.XNAS",
    asset_class=AssetClass.EQUITY,
    currency="USD",
    tick_size=Decimal("0.01"),
)
BAR_TYPE = "ACME.XNAS-1-MINUTE-LAST-EXTERNAL"
HEADER = "timestamp,open,high,low,close,volume"
KINDS = (
    *("good",) * 6,
    "twin",
    "older",
    "bad_ts",
    "naive",
    "not_a_number",
    "negative",
    "high_below_body",
    "off_tick",
    "malformed",
    "blank_before",
)


def cells(i: int, ts: int, epoch: bool, bump: int = 0) -> list[str]:
    o = 10_000 + (i * 37) % 500
    c = o + (i % 5) - 2 + bump
    h, lo = max(o, c) + i % 3, min(o, c) - i % 4
    stamp = str(ts) if epoch else iso(ts)
    return [stamp, *(f"{p / 100:.2f}" for p in (o, h, lo, c)), str(100 + i)]


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, object]:
    n = draw(st.integers(0, 30))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=n, max_size=n))
    epoch = draw(st.booleans())
    lines: list[str] = []
    clean: list[list[str]] = []
    t, previous = T0, T0
    for i, kind in enumerate(kinds):
        t += draw(st.integers(1, 3)) * MINUTE_NS
        ts = previous if kind == "twin" else t - 4 * MINUTE_NS if kind == "older" else t
        row = cells(i, ts, epoch)
        if kind == "bad_ts":
            row[0] = "noon-ish"
        elif kind == "naive":
            row[0] = iso(ts).removesuffix("Z")
        elif kind == "not_a_number":
            row[2] = "n/a"
        elif kind == "negative":
            row[3] = "-" + row[3]
        elif kind == "high_below_body":
            row[2] = "0.01"
        elif kind == "off_tick":
            row[4] += "3"
        elif kind == "malformed":
            row.append("extra")
        if kind == "blank_before":
            lines.append("")
        if kind == "good":
            clean.append(row)
        lines.append(",".join(row))
        previous = ts if kind not in ("older",) else previous
    held: list[list[list[str]]] = []
    for _ in range(draw(st.integers(0, 2))):
        picked = sorted(draw(st.sets(st.integers(0, max(len(clean) - 1, 0)), max_size=8)))
        part = [list(clean[k]) for k in picked if k < len(clean)]
        for row in part:  # some rows the catalog holds with another close: conflicts
            if draw(st.integers(0, 4)) == 0:
                row[4] = f"{float(row[4]) + 0.01:.2f}"
                row[2] = f"{max(float(row[2]), float(row[4])):.2f}"
        held.append(part)
    return {
        "lines": lines,
        "held": held,
        "parquet": draw(st.booleans()),
        "chunk_rows": draw(st.integers(1, n + 2)),
        "piece_rows": draw(st.sampled_from([1, 2, 3, 7, 50_000])),
        "row_group_rows": draw(st.integers(1, n + 2)),  # Parquet read a row group at a time
    }


def write_file(
    folder: Path, lines: list[str], parquet: bool, name: str, row_group_rows: int = 1 << 20
) -> Path:
    if not parquet:
        path = folder / f"{name}.csv"
        path.write_text("\n".join([HEADER, *lines]) + "\n")
        return path
    rows = [line.split(",") for line in lines if line and line.count(",") == 5]
    columns = list(zip(*rows, strict=True)) if rows else [()] * 6
    table = pa.table(
        {n: pa.array(list(c), pa.string()) for n, c in zip(HEADER.split(","), columns, strict=True)}
    )
    path = folder / f"{name}.parquet"
    pq.write_table(table, path, row_group_size=row_group_rows)
    return path


def ingest(home: Path, held: list[Path], path: Path, chunk_rows: int) -> dict[str, object]:
    """A fresh catalog, the held files ingested whole, then ``path`` in chunks: what it did."""
    catalog = ParquetCatalog(home / "catalog")
    catalog.put_instrument(EQUITY)
    service = BarIngestService(catalog, BarFileSource(), home / "ingests")
    for before in held:
        service.ingest_bars(before, "ACME.XNAS", "1-MINUTE-LAST")
    earlier = set((home / "ingests").glob("*/rejects.csv"))
    try:
        summary = service.ingest_bars(path, "ACME.XNAS", "1-MINUTE-LAST", chunk_rows=chunk_rows)
    except NothingValidError as error:
        rejects = set((home / "ingests").glob("*/rejects.csv")) - earlier
        outcome: dict[str, object] = {
            "error": error.message,
            "rejects": [p.read_text() for p in rejects],
        }
    else:
        outcome = summary.model_dump(exclude={"ingest_id", "rejects_path"})
        outcome["rejects"] = (
            Path(summary.rejects_path).read_text() if summary.rejects_path else None
        )
    bars = catalog.read_bars(BAR_TYPE, 0, TS_MAX_NS)
    outcome["bars"] = [
        getattr(bars, f).tolist() for f in ("ts_ns", "open", "high", "low", "close", "volume")
    ]
    outcome["files"] = [(f.path, f.rows) for f in catalog.bar_files(BAR_TYPE, 0, TS_MAX_NS)]
    outcome["lineage"] = [
        r.model_dump(exclude={"ingest_id", "started_at_ns", "finished_at_ns", "files_added"})
        for r in catalog.lineage()
    ]
    rows = np.array([f.rows for f in catalog.bar_files(BAR_TYPE, 0, TS_MAX_NS)])
    outcome["largest_file_within_piece"] = bool((rows <= ParquetCatalog.piece_rows).all())
    return outcome


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_property_30_chunked_ingest_is_the_whole_file_ingest(scenario: dict[str, object]) -> None:
    # Property 30: invalid data is rejected at ingest -- the same rows with the same reasons,
    # and the same catalog, whatever the chunk size (chunk boundaries change nothing)
    lines, held = scenario["lines"], scenario["held"]
    assert isinstance(lines, list) and isinstance(held, list)
    parquet, chunk_rows = bool(scenario["parquet"]), int(str(scenario["chunk_rows"]))
    with (
        tempfile.TemporaryDirectory() as tmp,
        mock.patch.object(ParquetCatalog, "piece_rows", scenario["piece_rows"]),
    ):
        folder = Path(tmp)
        held_files = [
            write_file(folder, [",".join(r) for r in part], False, f"held-{k}")
            for k, part in enumerate(held)
            if part
        ]
        path = write_file(folder, lines, parquet, "bars", int(str(scenario["row_group_rows"])))
        whole = ingest(folder / "whole", held_files, path, chunk_rows=1_000_000)
        chunked = ingest(folder / "chunked", held_files, path, chunk_rows=chunk_rows)
    assert chunked == whole
    assert whole["largest_file_within_piece"]
