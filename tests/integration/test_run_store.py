"""The run store on real files: save, list, find by prefix, refuse overwrites, round trips."""

import csv
import dataclasses
import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import numpy as np
import pyarrow.parquet as pq
import pytest

from quantdesk.adapters.storage import run_store
from quantdesk.adapters.storage.run_store import FileRunStore
from quantdesk.cli.errors import hint_of
from quantdesk.domain.backtest import (
    BacktestRequest,
    BacktestResult,
    DataUsed,
    EngineFacts,
    FillRecord,
    Metrics,
    PositionRecord,
    RunStatus,
)
from quantdesk.domain.errors import ConflictError, InvalidInputError, NotFoundError
from quantdesk.services.performance import EquityCurve, drawdown
from quantdesk.services.ports import RunArtifacts

T0 = 1_704_067_260_000_000_000  # 2024-01-01T00:01:00Z
MINUTE = 60_000_000_000


def make_result(run_id: str, started_at_ns: int = T0, label: str = "") -> BacktestResult:
    metrics = Metrics(
        start_equity=1_000_000.0,
        end_equity=1_000_123.456789,
        pnl=123.456789,
        total_return=0.1 + 0.2,  # not a short decimal: JSON must keep every bit
        cagr=None,
        annual_volatility=0.15,
        sharpe=1.25,
        sortino=None,
        calmar=2.5,
        max_drawdown=-0.0123,
        max_drawdown_duration_ns=3 * 86_400 * 10**9,
        trade_count=2,
        win_rate=0.5,
        profit_factor=1.7,
        avg_win=200.0,
        avg_loss=-76.5,
        expectancy=61.75,
        exposure=0.4,
        turnover=1.2,
        fees=3.21,
        periods_per_year=365.0,
    )
    return BacktestResult(
        run_id=run_id,
        status=RunStatus.COMPLETED,
        fingerprint="ab" * 32,
        request=BacktestRequest(
            strategies=["acme-trend@1"], start_ns=T0, end_ns=T0 + 9 * MINUTE, label=label
        ),
        instruments=["ACME.XNAS", "BETA.XNAS"],
        started_at_ns=started_at_ns,
        finished_at_ns=started_at_ns + 10**9,
        data=[
            DataUsed(
                bar_type="ACME.XNAS-1-MINUTE-LAST-EXTERNAL",
                first_ts=T0,
                last_ts=T0 + 9 * MINUTE,
                bars=10,
                file_sha256=["cd" * 32],
                source_sha256=["ef" * 32],
            )
        ],
        metrics=metrics,
        attribution=[],
        facts=EngineFacts(
            nautilus_trader_version="1.221.0",
            quantdesk_version="0.1.0",
            bars=10,
            events_processed=42,
            orders=2,
            fills=2,
            positions_closed=1,
            wall_seconds=0.5,
            bars_per_second=20.0,
        ),
    )


def make_artifacts(fills: int = 2) -> RunArtifacts:
    rng = np.random.default_rng(7)
    ts = T0 + np.arange(10, dtype=np.int64) * MINUTE
    equity = 1_000_000.0 + rng.normal(0, 100, 10).cumsum()
    return RunArtifacts(
        fills=[
            FillRecord(
                ts_ns=T0 + (i + 1) * MINUTE + 1,
                strategy_id="Cls-ACME",
                instrument_id="ACME.XNAS",
                order_id=f"O-{i}",
                trade_id=f"T-{i}",
                position_id="P-1",
                side=1 if i % 2 == 0 else -1,
                quantity=10.0 / 3.0,
                price=100.0 + 0.1 * i + 1e-13,
                commission=0.1 + 0.2,
                commission_currency="USD",
            )
            for i in range(fills)
        ],
        positions=[
            PositionRecord(
                strategy_id="Cls-ACME",
                instrument_id="ACME.XNAS",
                position_id="P-1",
                side=1,
                peak_quantity=10.0 / 3.0,
                opened_ns=T0 + MINUTE + 1,
                closed_ns=T0 + 2 * MINUTE + 1,
                avg_px_open=100.0 + 1e-13,
                avg_px_close=100.1 + 1e-13,
                realized_pnl=0.3333333333333333,
                commissions=0.6000000000000001,
            )
        ],
        curve=EquityCurve(ts_ns=ts, equity=equity, in_market=np.arange(10) % 3 == 0),
        prices={
            "ACME.XNAS": (ts, 100.0 + rng.normal(0, 1, 10)),
            "BETA.XNAS": (ts[::2].copy(), 50.0 + rng.normal(0, 1, 5)),
        },
    )


def page(html: str) -> Callable[[TextIO], None]:
    """The report writer of a page already rendered."""
    return lambda out: out.write(html)


@pytest.fixture
def store(tmp_path: Path) -> FileRunStore:
    return FileRunStore(tmp_path / "runs")


def save(store: FileRunStore, run_id: str, started_at_ns: int = T0) -> BacktestResult:
    result = make_result(run_id, started_at_ns)
    store.save(result, make_artifacts(), page(f"<html>{run_id}</html>"))
    return result


def test_save_writes_one_folder_with_every_file(store: FileRunStore, tmp_path: Path) -> None:
    result = make_result("20240101T000100Z-1a2b3c4d")
    folder = store.save(result, make_artifacts(), page("<html>report</html>"))
    assert folder == tmp_path / "runs" / result.run_id
    assert sorted(p.name for p in folder.iterdir()) == [
        "equity.parquet",
        "fills.parquet",
        "positions.parquet",
        "prices.parquet",
        "report.html",
        "request.json",
        "result.json",
    ]
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [result.run_id]
    assert (folder / "report.html").read_text() == "<html>report</html>"
    assert BacktestRequest.model_validate_json((folder / "request.json").read_text()) == (
        result.request
    )
    equity = pq.read_table(folder / "equity.parquet")
    assert [(f.name, str(f.type)) for f in equity.schema] == [
        ("ts_ns", "int64"),
        ("equity", "double"),
        ("drawdown", "double"),
        ("in_market", "bool"),
    ]
    assert max(equity.column("drawdown").to_pylist()) <= 0.0
    prices = pq.read_table(folder / "prices.parquet")
    assert [(f.name, str(f.type)) for f in prices.schema] == [
        ("instrument_id", "dictionary<values=string, indices=int32, ordered=0>"),
        ("ts_ns", "int64"),
        ("close", "double"),
    ]
    assert prices.num_rows == 15


def test_result_round_trips_and_lists_newest_first(store: FileRunStore) -> None:
    old = save(store, "20240101T000000Z-aaaaaaaa", started_at_ns=T0)
    new = save(store, "20240102T000000Z-bbbbbbbb", started_at_ns=T0 + 86_400 * 10**9)
    mid = save(store, "20230101T000000Z-cccccccc", started_at_ns=T0 + 3_600 * 10**9)
    assert store.results() == [new, mid, old]
    assert store.result(old.run_id) == old
    assert store.result(old.run_id).metrics.total_return == 0.1 + 0.2


def test_listing_skips_partial_folders_and_foreign_ones(
    store: FileRunStore, tmp_path: Path
) -> None:
    kept = save(store, "20240101T000000Z-aaaaaaaa")
    (tmp_path / "runs" / ".20240101T000001Z-bbbbbbbb.partial").mkdir()
    (tmp_path / "runs" / "notes").mkdir()
    assert store.results() == [kept]
    with pytest.raises(NotFoundError):
        store.result("notes")


def test_a_result_that_no_longer_parses_is_named_not_listed(
    store: FileRunStore, tmp_path: Path
) -> None:
    kept = save(store, "20240101T000000Z-aaaaaaaa")
    broken = save(store, "20240102T000000Z-bbbbbbbb")
    (tmp_path / "runs" / broken.run_id / "result.json").write_text('{"run_id": 1}')
    assert store.results() == [kept]
    with pytest.raises(InvalidInputError, match="does not parse"):
        store.result(broken.run_id)


def test_a_result_that_would_not_read_back_is_refused(store: FileRunStore, tmp_path: Path) -> None:
    result = make_result("20240101T000000Z-aaaaaaaa")
    nan = result.model_copy(update={"metrics": result.metrics.model_copy(update={"pnl": math.nan})})
    with pytest.raises(ValueError, match="unreadable"):
        store.save(nan, make_artifacts(), page(""))
    assert not (tmp_path / "runs").exists() or list((tmp_path / "runs").iterdir()) == []


def test_an_empty_or_missing_store_lists_nothing(store: FileRunStore) -> None:
    assert store.results() == []


def test_a_unique_prefix_names_a_run(store: FileRunStore, tmp_path: Path) -> None:
    first = save(store, "20240101T000000Z-aaaaaaaa")
    save(store, "20240102T000000Z-bbbbbbbb")
    assert store.result("20240101") == first
    assert store.directory("20240101T0") == tmp_path / "runs" / first.run_id
    assert store.artifacts("20240101").fills == make_artifacts().fills


def test_an_ambiguous_prefix_lists_the_candidates(store: FileRunStore) -> None:
    save(store, "20240101T000000Z-aaaaaaaa")
    save(store, "20240101T120000Z-bbbbbbbb")
    with pytest.raises(InvalidInputError) as caught:
        store.result("20240101T")
    assert "20240101T000000Z-aaaaaaaa" in str(caught.value)
    assert "20240101T120000Z-bbbbbbbb" in str(caught.value)
    with pytest.raises(InvalidInputError):
        store.directory("2024")


def test_an_unknown_run_points_to_the_list(store: FileRunStore) -> None:
    save(store, "20240101T000000Z-aaaaaaaa")
    for call in (store.result, store.artifacts, store.directory):
        with pytest.raises(NotFoundError) as caught:
            call("20990101T000000Z-ffffffff")
        assert (caught.value.code, caught.value.data) == (
            "run_not_found",
            {"run_id": "20990101T000000Z-ffffffff"},
        )
        assert hint_of(caught.value) == "see quantdesk runs list"  # the CLI's words
    with pytest.raises(InvalidInputError) as missing:
        store.result("")
    assert hint_of(missing.value) == "see quantdesk runs list"


def test_a_stored_run_is_never_overwritten(store: FileRunStore, tmp_path: Path) -> None:
    run_id = "20240101T000000Z-aaaaaaaa"
    save(store, run_id)
    before = (tmp_path / "runs" / run_id / "result.json").read_bytes()
    with pytest.raises(ConflictError):
        store.save(make_result(run_id, label="second"), make_artifacts(), page("<html>2</html>"))
    assert (tmp_path / "runs" / run_id / "result.json").read_bytes() == before
    assert (tmp_path / "runs" / run_id / "report.html").read_text() == f"<html>{run_id}</html>"
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [run_id]


@pytest.mark.parametrize("run_id", ["../escape", ".hidden", "a/b", ""])
def test_run_ids_that_are_not_folder_names_are_refused(store: FileRunStore, run_id: str) -> None:
    with pytest.raises(InvalidInputError):
        store.save(make_result(run_id), make_artifacts(), page(""))


def test_a_failing_write_leaves_no_run(
    store: FileRunStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = run_store._write_prices

    def boom(path: Path, prices: object) -> None:
        path.write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(run_store, "_write_prices", boom)
    result = make_result("20240101T000000Z-aaaaaaaa")
    with pytest.raises(OSError, match="disk full"):
        store.save(result, make_artifacts(), page("<html></html>"))
    assert list((tmp_path / "runs").iterdir()) == []
    assert store.results() == []
    with pytest.raises(NotFoundError):
        store.result(result.run_id)

    monkeypatch.setattr(run_store, "_write_prices", real_write)
    store.save(result, make_artifacts(), page("<html></html>"))
    assert store.result(result.run_id) == result


def test_a_failing_publish_leaves_no_run(
    store: FileRunStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: Path, target: Path) -> Path:
        raise OSError("rename refused")

    monkeypatch.setattr(Path, "rename", refuse)
    with pytest.raises(OSError, match="rename refused"):
        store.save(make_result("20240101T000000Z-aaaaaaaa"), make_artifacts(), page(""))
    assert list((tmp_path / "runs").iterdir()) == []


def test_a_stale_partial_folder_does_not_block_a_save(store: FileRunStore, tmp_path: Path) -> None:
    run_id = "20240101T000000Z-aaaaaaaa"
    stale = tmp_path / "runs" / f".{run_id}.partial"
    stale.mkdir(parents=True)
    (stale / "result.json").write_text("{")
    save(store, run_id)
    assert not stale.exists()
    assert store.result(run_id).run_id == run_id


def test_artifacts_round_trip_bit_for_bit(store: FileRunStore) -> None:
    artifacts = make_artifacts(fills=5)
    result = make_result("20240101T000000Z-aaaaaaaa")
    store.save(result, artifacts, page(""))
    loaded = store.artifacts(result.run_id)

    assert loaded.fills == artifacts.fills
    assert loaded.positions == artifacts.positions
    for got, want in (
        (loaded.curve.ts_ns, artifacts.curve.ts_ns),
        (loaded.curve.equity, artifacts.curve.equity),
        (loaded.curve.in_market, artifacts.curve.in_market),
    ):
        assert got.dtype == want.dtype
        assert got.tobytes() == want.tobytes()
    assert list(loaded.prices) == list(artifacts.prices)
    for instrument_id, (ts, close) in artifacts.prices.items():
        got_ts, got_close = loaded.prices[instrument_id]
        assert got_ts.dtype == np.int64 and got_close.dtype == np.float64
        assert got_ts.tobytes() == ts.tobytes()
        assert got_close.tobytes() == close.tobytes()


def test_fills_stored_before_quote_rates_read_back_at_rate_one(
    store: FileRunStore, tmp_path: Path
) -> None:
    artifacts = make_artifacts(fills=3)
    result = make_result("20240101T000000Z-aaaaaaaa")
    folder = store.save(result, artifacts, page(""))
    path = folder / "fills.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["quote_rate"]), path)  # an older run
    loaded = store.artifacts(result.run_id).fills
    assert [f.quote_rate for f in loaded] == [1.0, 1.0, 1.0]
    assert loaded == artifacts.fills


def test_empty_artifacts_round_trip_with_their_schema(store: FileRunStore, tmp_path: Path) -> None:
    empty_ts = np.empty(0, dtype=np.int64)
    empty = RunArtifacts(
        fills=[],
        positions=[],
        curve=EquityCurve(
            ts_ns=empty_ts,
            equity=np.empty(0, dtype=np.float64),
            in_market=np.empty(0, dtype=np.bool_),
        ),
        prices={"ACME.XNAS": (empty_ts, np.empty(0, dtype=np.float64))},
    )
    result = make_result("20240101T000000Z-aaaaaaaa")
    folder = store.save(result, empty, page(""))
    fills = pq.read_table(folder / "fills.parquet")
    assert fills.num_rows == 0
    assert fills.schema.names == [
        "ts_ns",
        "strategy_id",
        "instrument_id",
        "order_id",
        "trade_id",
        "position_id",
        "side",
        "quantity",
        "price",
        "commission",
        "commission_currency",
        "signal_id",
        "quote_rate",
        "kind",
    ]
    assert fills.schema.field("signal_id").nullable
    assert pq.read_table(folder / "positions.parquet").num_rows == 0
    loaded = store.artifacts(result.run_id)
    assert loaded.fills == [] and loaded.positions == []
    assert len(loaded.curve) == 0
    assert list(loaded.prices) == ["ACME.XNAS"]
    assert len(loaded.prices["ACME.XNAS"][0]) == 0


def test_curve_written_in_row_groups_and_report_by_its_writer_read_back_whole(
    store: FileRunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Row groups of 3 points carry the running peak across; the report is written by its
    writer into the run's file: the files hold what one whole write would."""
    monkeypatch.setattr(run_store, "_ROW_GROUP", 3)
    base = make_artifacts()
    equity_values = [100.0, 120.0, 110.0, 90.0, 130.0, 125.0, 100.0, 140.0, 135.0, 130.0]
    curve = EquityCurve(base.curve.ts_ns, np.array(equity_values), base.curve.in_market)
    artifacts = RunArtifacts(base.fills, base.positions, curve, base.prices)
    report = "<html>équité · " + "x" * 50 + "</html>\n"
    folder = store.save(make_result("20240101T000000Z-aaaaaaaa"), artifacts, page(report))

    equity = pq.read_table(folder / "equity.parquet")
    assert pq.ParquetFile(folder / "equity.parquet").num_row_groups == 4
    assert equity.column("drawdown").to_numpy().tobytes() == drawdown(artifacts.curve).tobytes()
    assert equity.column("equity").to_numpy().tobytes() == artifacts.curve.equity.tobytes()
    assert (folder / "report.html").read_text(encoding="utf-8") == report


def test_a_failing_report_writer_leaves_no_run(store: FileRunStore, tmp_path: Path) -> None:
    def broken(out: TextIO) -> None:
        out.write("<html>half a page")
        raise RuntimeError("renderer failed")

    with pytest.raises(RuntimeError, match="renderer failed"):
        store.save(make_result("20240101T000000Z-aaaaaaaa"), make_artifacts(), broken)
    assert store.results() == []
    assert [p.name for p in (tmp_path / "runs").iterdir()] == []


@pytest.mark.parametrize(("offset", "limit"), [(0, 10), (0, 3), (2, 5), (4, 100), (9, 1), (10, 5)])
def test_a_page_of_a_table_is_its_rows_across_row_groups(
    store: FileRunStore, monkeypatch: pytest.MonkeyPatch, offset: int, limit: int
) -> None:
    monkeypatch.setattr(run_store, "_ROW_GROUP", 3)  # 10 fills: four row groups
    artifacts = make_artifacts(fills=10)
    store.save(make_result("20240101T000000Z-aaaaaaaa"), artifacts, page("<html/>"))
    every = [dataclasses.asdict(f) for f in artifacts.fills]
    rows, total = store.rows("20240101T000000Z-aaaaaaaa", "fills", offset=offset, limit=limit)
    assert (rows, total) == (every[offset : offset + limit], 10)
    equity, points = store.rows("20240101T000000Z-aaaaaaaa", "equity", offset=0, limit=100)
    assert points == 10 and [p["ts_ns"] for p in equity] == list(artifacts.curve.ts_ns)
    assert max(p["drawdown"] for p in equity) == 0.0  # type: ignore[type-var]
    positions, count = store.rows("20240101T000000Z-aaaaaaaa", "positions", offset=0, limit=5)
    assert (positions, count) == ([dataclasses.asdict(p) for p in artifacts.positions], 1)


def test_a_table_downloads_as_stored_parquet_or_as_csv(
    store: FileRunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_store, "_ROW_GROUP", 3)
    result = make_result("20240101T000000Z-aaaaaaaa")
    folder = store.save(result, make_artifacts(fills=7), page("<html/>"))
    parquet = b"".join(store.download(result.run_id, "fills", "parquet"))
    assert parquet == (folder / "fills.parquet").read_bytes()
    text = b"".join(store.download(result.run_id, "fills", "csv")).decode()
    lines = list(csv.DictReader(io.StringIO(text)))
    rows, _ = store.rows(result.run_id, "fills", offset=0, limit=100)
    assert len(lines) == 7 and text.count("ts_ns") == 1  # one header
    assert [line["order_id"] for line in lines] == [r["order_id"] for r in rows]
    assert [float(line["price"]) for line in lines] == [r["price"] for r in rows]
    assert {line["signal_id"] for line in lines} == {""}  # null as an empty cell
