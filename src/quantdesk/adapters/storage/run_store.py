"""Backtest runs on disk: one folder per run, JSON for the result, Parquet for the bulk.

A run folder is written whole or not at all: everything goes into a hidden ``.<id>.partial``
folder first and one rename makes it visible, so a crash or a failing write never leaves a
run that lists but cannot be read. Stored runs are never overwritten: a run id names one
result for good.
"""

import dataclasses
import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from quantdesk.adapters.storage.run_artifacts import csv_bytes, page_of, parquet_bytes
from quantdesk.domain.backtest import BacktestResult, FillRecord, PositionRecord
from quantdesk.domain.errors import ConflictError, InvalidInputError, JsonScalar, NotFoundError
from quantdesk.domain.record_log import RecordLog, as_log
from quantdesk.services.columns import BoolArray, Float64Array, Int64Array
from quantdesk.services.performance import EquityCurve, drawdown_of
from quantdesk.services.ports import ReportWriter, RunArtifacts
from quantdesk.services.ports.runs import ArtifactKind, DownloadFormat

REQUEST_FILE = "request.json"
RESULT_FILE = "result.json"
FILLS_FILE = "fills.parquet"
POSITIONS_FILE = "positions.parquet"
EQUITY_FILE = "equity.parquet"
PRICES_FILE = "prices.parquet"
REPORT_FILE = "report.html"
PARTIAL_SUFFIX = ".partial"

_TABLES: dict[ArtifactKind, str] = {
    "fills": FILLS_FILE,
    "positions": POSITIONS_FILE,
    "equity": EQUITY_FILE,
}
_LIST_HINT = "list the stored runs to find its id"
_ROW_GROUP = 131_072
_ARROW_TYPES: dict[object, pa.DataType] = {
    int: pa.int64(),
    float: pa.float64(),
    str: pa.string(),
    str | None: pa.string(),  # nullable: a fill's signal id
}
_EQUITY_SCHEMA = pa.schema(
    [
        ("ts_ns", pa.int64()),
        ("equity", pa.float64()),
        ("drawdown", pa.float64()),
        ("in_market", pa.bool_()),
    ]
)
_PRICES_SCHEMA = pa.schema(
    [
        ("instrument_id", pa.dictionary(pa.int32(), pa.string())),
        ("ts_ns", pa.int64()),
        ("close", pa.float64()),
    ]
)
# The instruments in request order, kept in the file so one without bars survives a round trip.
_INSTRUMENTS_KEY = b"quantdesk.instruments"


R = TypeVar("R")


def _record_schema(fields: tuple[dataclasses.Field[object], ...]) -> pa.Schema:
    """Arrow schema of a record dataclass, one column per field, so the files track the type."""
    return pa.schema([(f.name, _ARROW_TYPES[f.type]) for f in fields])


_FILL_SCHEMA = _record_schema(dataclasses.fields(FillRecord))
_POSITION_SCHEMA = _record_schema(dataclasses.fields(PositionRecord))


class FileRunStore:
    """Runs under ``runs_dir``: ``<run_id>/{result,request}.json``, Parquet, ``report.html``."""

    def __init__(self, runs_dir: Path) -> None:
        self._root = runs_dir

    # writing -------------------------------------------------------------------------------

    def save(
        self, result: BacktestResult, artifacts: RunArtifacts, write_report: ReportWriter
    ) -> Path:
        run_id = result.run_id
        _check_run_id(run_id)
        final = self._root / run_id
        if final.exists():
            raise ConflictError(
                f"run {run_id} is already stored at {final}",
                hint="a run id names one result for good; run the backtest again for a new id",
            )
        result_json = _readable_json(result)
        self._root.mkdir(parents=True, exist_ok=True)
        partial = self._root / f".{run_id}{PARTIAL_SUFFIX}"
        shutil.rmtree(partial, ignore_errors=True)  # left by a crash: it never became a run
        partial.mkdir()
        try:
            _write_text(partial / REQUEST_FILE, result.request.model_dump_json(indent=2))
            fills, positions = artifacts.fills, artifacts.positions
            _write_records(partial / FILLS_FILE, as_log(FillRecord, fills), _FILL_SCHEMA)
            _write_records(
                partial / POSITIONS_FILE, as_log(PositionRecord, positions), _POSITION_SCHEMA
            )
            _write_equity(partial / EQUITY_FILE, artifacts.curve)
            _write_prices(partial / PRICES_FILE, artifacts.prices)
            with (partial / REPORT_FILE).open("w", encoding="utf-8") as report:
                write_report(report)
            _fsync(partial / REPORT_FILE)
            _write_text(partial / RESULT_FILE, result_json)
            _fsync(partial)
            if final.exists():  # another writer got there while this one was writing
                raise ConflictError(f"run {run_id} is already stored at {final}")
            partial.rename(final)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        _fsync(self._root)
        return final

    # reading -------------------------------------------------------------------------------

    def results(self) -> list[BacktestResult]:
        """Every stored run, newest first.

        A folder whose ``result.json`` no longer parses (written by another quantdesk version)
        is left out rather than hiding every other run; ``result()`` names its problem.
        """
        results = []
        for run_id in self._run_ids():
            try:
                results.append(self._load_result(run_id))
            except (OSError, ValidationError):
                continue
        results.sort(key=lambda r: (r.started_at_ns, r.run_id), reverse=True)
        return results

    def result(self, run_id: str) -> BacktestResult:
        resolved = self._resolve(run_id)
        try:
            return self._load_result(resolved)
        except ValidationError as exc:
            raise InvalidInputError(
                f"run {resolved}: {self._root / resolved / RESULT_FILE} does not parse: "
                f"{exc.error_count()} error(s), first: {exc.errors()[0]['msg']}",
                hint="it was written by another quantdesk version or edited by hand",
            ) from exc

    def artifacts(self, run_id: str) -> RunArtifacts:
        folder = self._root / self._resolve(run_id)
        equity = pq.read_table(folder / EQUITY_FILE)
        return RunArtifacts(
            fills=_read_records(folder / FILLS_FILE, FillRecord, _FILL_SCHEMA),
            positions=_read_records(folder / POSITIONS_FILE, PositionRecord, _POSITION_SCHEMA),
            curve=EquityCurve(
                ts_ns=_int64(equity.column("ts_ns")),
                equity=_float64(equity.column("equity")),
                in_market=_bool(equity.column("in_market")),
            ),
            prices=_read_prices(folder / PRICES_FILE),
        )

    def directory(self, run_id: str) -> Path:
        return self._root / self._resolve(run_id)

    def rows(
        self, run_id: str, kind: ArtifactKind, *, offset: int, limit: int
    ) -> tuple[list[dict[str, JsonScalar]], int]:
        return page_of(self._table(run_id, kind), offset=offset, limit=limit)

    def download(self, run_id: str, kind: ArtifactKind, format: DownloadFormat) -> Iterator[bytes]:
        path = self._table(run_id, kind)
        return parquet_bytes(path) if format == "parquet" else csv_bytes(path)

    def _table(self, run_id: str, kind: ArtifactKind) -> Path:
        return self._root / self._resolve(run_id) / _TABLES[kind]

    # ids -----------------------------------------------------------------------------------

    def _run_ids(self) -> list[str]:
        if not self._root.is_dir():
            return []
        return sorted(
            p.name
            for p in self._root.iterdir()
            if not p.name.startswith(".") and (p / RESULT_FILE).is_file()
        )

    def _resolve(self, run_id: str) -> str:
        """The stored run named by ``run_id`` or by a unique prefix of it."""
        if not run_id:
            raise InvalidInputError("no run id given", hint=_LIST_HINT, code="run_id_missing")
        run_ids = self._run_ids()
        if run_id in run_ids:
            return run_id
        matches = [r for r in run_ids if r.startswith(run_id)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise NotFoundError(
                f"no stored run {run_id!r} in {self._root}",
                hint=_LIST_HINT,
                code="run_not_found",
                data={"run_id": run_id},
            )
        shown = ", ".join(matches[:10]) + (
            f" and {len(matches) - 10} more" if len(matches) > 10 else ""
        )
        raise InvalidInputError(
            f"run id prefix {run_id!r} matches {len(matches)} runs: {shown}",
            hint="give more characters of the run id",
        )

    def _load_result(self, run_id: str) -> BacktestResult:
        text = (self._root / run_id / RESULT_FILE).read_text(encoding="utf-8")
        return BacktestResult.model_validate_json(text)


def _readable_json(result: BacktestResult) -> str:
    """``result.json``, checked to parse back before anything is written.

    JSON writes NaN as null, which a required figure refuses on reading: the run could never
    be listed or read again.
    """
    text = result.model_dump_json(indent=2)
    try:
        BacktestResult.model_validate_json(text)
    except ValidationError as exc:
        raise ValueError(f"run {result.run_id} would be stored unreadable: {exc}") from exc
    return text


def _check_run_id(run_id: str) -> None:
    """A run id becomes a folder name: it must be one plain path component."""
    if not run_id or run_id.startswith(".") or "/" in run_id or "\\" in run_id or "\0" in run_id:
        raise InvalidInputError(
            f"run id {run_id!r} cannot name a folder",
            hint="run ids look like 20261123T123000Z-1a2b3c4d",
        )


# files ---------------------------------------------------------------------------------------


def _fsync(path: Path) -> None:
    """Flush a file or folder to disk, so the rename that publishes a run follows its content."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    _fsync(path)


def _write_table(path: Path, table: pa.Table) -> None:
    """Row groups of 128k rows, dictionaries only for text: a million-point curve written
    whole, with dictionary pages tried on every float column, costs tens of MB of peak."""
    text = [
        f.name for f in table.schema if pa.types.is_string(f.type) or pa.types.is_dictionary(f.type)
    ]
    pq.write_table(table, path, row_group_size=_ROW_GROUP, use_dictionary=text or False)
    _fsync(path)


def _write_records(path: Path, records: RecordLog[Any], schema: pa.Schema) -> None:
    columns = [
        pa.array(records.column(name), type=schema.field(name).type) for name in schema.names
    ]
    _write_table(path, pa.Table.from_arrays(columns, schema=schema))


def _read_records(path: Path, record_type: type[R], schema: pa.Schema) -> RecordLog[R]:
    """Records in file order; the schema's column order is the record's field order. A
    column a file predates (e.g. a fill's ``quote_rate``) reads as the field's default."""
    table = pq.read_table(path, schema=schema)
    present = set(pq.read_schema(path).names)
    defaults = {
        f.name: f.default
        for f in dataclasses.fields(record_type)  # type: ignore[arg-type]
        if f.default is not dataclasses.MISSING
    }
    columns = [
        table.column(name).to_pylist()
        if name in present or name not in defaults
        else [defaults[name]] * table.num_rows
        for name in schema.names
    ]
    log = RecordLog(record_type)
    for row in zip(*columns, strict=True):
        log.append_values(*row)
    return log


def _write_equity(path: Path, curve: EquityCurve) -> None:
    """A row group at a time, the drawdown computed per group from the peak carried over:
    a million-point curve is never copied whole."""
    ts = np.asarray(curve.ts_ns, dtype=np.int64)
    equity = np.asarray(curve.equity, dtype=np.float64)
    in_market = np.asarray(curve.in_market, dtype=np.bool_)
    peak = -math.inf
    with pq.ParquetWriter(path, _EQUITY_SCHEMA, use_dictionary=False) as writer:
        for start in range(0, max(len(ts), 1), _ROW_GROUP):  # an empty curve: one empty group
            part = slice(start, start + _ROW_GROUP)
            under = drawdown_of(equity[part], peak)
            if len(under):
                peak = max(peak, float(equity[part].max()))
            writer.write_table(
                pa.Table.from_arrays(
                    [
                        pa.array(ts[part]),
                        pa.array(equity[part]),
                        pa.array(under),
                        pa.array(in_market[part]),
                    ],
                    schema=_EQUITY_SCHEMA,
                )
            )
    _fsync(path)


def _write_prices(path: Path, prices: dict[str, tuple[Int64Array, Float64Array]]) -> None:
    """One row group per instrument, its id dictionary-encoded: no column as long as the
    closes is ever built in memory (at a million bars that is tens of MB of peak)."""
    ids = list(prices)
    schema = _PRICES_SCHEMA.with_metadata({_INSTRUMENTS_KEY: "\n".join(ids).encode()})
    dictionary = pa.array(ids, pa.string())
    with pq.ParquetWriter(path, schema, use_dictionary=["instrument_id"]) as writer:
        for code, (ts, close) in enumerate(prices.values()):
            instrument = pa.DictionaryArray.from_arrays(
                pa.array(np.full(len(ts), code, dtype=np.int32)), dictionary
            )
            writer.write_table(
                pa.Table.from_arrays(
                    [
                        instrument,
                        pa.array(np.asarray(ts, dtype=np.int64)),
                        pa.array(np.asarray(close, dtype=np.float64)),
                    ],
                    schema=schema,
                )
            )
    _fsync(path)


def _read_prices(path: Path) -> dict[str, tuple[Int64Array, Float64Array]]:
    table = pq.read_table(path)
    metadata = table.schema.metadata or {}
    listed = metadata.get(_INSTRUMENTS_KEY, b"").decode()
    ids = listed.split("\n") if listed else []
    column = table.column("instrument_id").combine_chunks()
    encoded = column if pa.types.is_dictionary(column.type) else column.dictionary_encode()
    names: list[str] = encoded.dictionary.to_pylist()
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    ts = _int64(table.column("ts_ns"))
    close = _float64(table.column("close"))
    prices: dict[str, tuple[Int64Array, Float64Array]] = {}
    for instrument_id in ids or names:
        if instrument_id in names:
            rows = codes == names.index(instrument_id)
            prices[instrument_id] = (ts[rows], close[rows])
        else:
            prices[instrument_id] = (ts[:0].copy(), close[:0].copy())
    return prices


def _int64(column: pa.ChunkedArray) -> Int64Array:
    values: Int64Array = np.array(column.to_numpy(), dtype=np.int64)
    return values


def _float64(column: pa.ChunkedArray) -> Float64Array:
    values: Float64Array = np.array(column.to_numpy(), dtype=np.float64)
    return values


def _bool(column: pa.ChunkedArray) -> BoolArray:
    values: BoolArray = np.array(column.to_numpy(zero_copy_only=False), dtype=np.bool_)
    return values
