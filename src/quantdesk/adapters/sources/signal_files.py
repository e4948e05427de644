"""Signal files: JSON lines, CSV or Parquet, read into records that validation judges.

Layouts (one signal per line / row):

- JSON lines (``.jsonl``, ``.ndjson``, ``.json``): each line an ``AISignal`` object.
- CSV (``.csv``, header row) and Parquet (``.parquet``): columns ``signal_id``,
  ``signal_type``, ``instrument_id``, ``ts_event``, ``ts_init`` (int ns UTC), ``confidence``,
  ``source_model``, and ``value``, ``provenance``, ``metadata`` (optional) holding JSON text.

Nothing is judged here: a line that is not UTF-8, not JSON or beyond the document limits
(too long, too deep, a number of thousands of digits), or a cell that does not parse, becomes
a record with an error, rejected as ``malformed`` with its row and field; the error starts
with its reason code (``not_utf8``, ``line_too_long``, ``nesting_too_deep``, ...). Files are
never decoded whole, so one bad line costs only that line.
"""

import contextlib
import csv
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from quantdesk.adapters.sources.line_files import SHOWN_CHARS, read_json_lines
from quantdesk.domain.documents import (
    DEFAULT_LIMITS,
    DocumentLimitError,
    DocumentLimits,
    loads_json,
)
from quantdesk.domain.errors import SourceReadError
from quantdesk.services.ports import SignalRecord

JSON_COLUMNS = ("value", "provenance", "metadata")
INT_COLUMNS = ("ts_event", "ts_init")
JSON_LINES = {".jsonl", ".ndjson", ".json"}


class SignalFileSource:
    """``SignalRecordSource`` for JSON lines, CSV and Parquet signal files."""

    def __init__(self, limits: DocumentLimits = DEFAULT_LIMITS) -> None:
        self._limits = limits

    def read_signals(self, path: Path) -> list[SignalRecord]:
        if not path.is_file():  # a directory or a device (/dev/zero) is refused unread
            what = "is not a regular file" if path.exists() else "no such file"
            raise SourceReadError(f"{path}: {what}", hint="check the path")
        suffix = path.suffix.lower()
        try:
            if suffix in JSON_LINES:
                return _json_lines(path, self._limits)
            if suffix == ".csv":
                return _csv(path, self._limits)
            if suffix == ".parquet":
                return _parquet(path, self._limits)
        except (OSError, csv.Error, pa.ArrowException) as error:
            raise SourceReadError(f"{path}: cannot be read: {error}") from error
        raise SourceReadError(
            f"{path}: unknown signal file type {suffix or '(none)'}",
            hint="use .jsonl (JSON lines), .csv or .parquet",
        )


def _json_lines(path: Path, limits: DocumentLimits) -> list[SignalRecord]:
    records = []
    for line in read_json_lines(path, limits):
        if line.error is not None:
            records.append(
                SignalRecord(
                    line.number,
                    line.text,
                    None,
                    _problem(line.error),
                    error_reason=line.error.reason,
                )
            )
        elif not isinstance(line.value, dict):
            records.append(
                SignalRecord(line.number, line.text, None, "a signal line must be a JSON object")
            )
        else:
            records.append(SignalRecord(line.number, line.text, line.value))
    return records


def _csv(path: Path, limits: DocumentLimits) -> list[SignalRecord]:
    # Bytes that are not UTF-8 become lone surrogates (valid UTF-8 never decodes to one):
    # the row holding them is rejected, the others are read.
    with path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:
            return []
        if any(_undecoded(name) for name in reader.fieldnames):
            raise SourceReadError(f"{path}: the header row is not UTF-8 text")
        return list(_csv_records(reader, limits))


def _csv_records(reader: "csv.DictReader[str]", limits: DocumentLimits) -> Iterator[SignalRecord]:
    for number, row in enumerate(_rows(reader), start=2):  # line 1 is the header
        if isinstance(row, csv.Error):
            text = f"malformed CSV row: {row}"
            yield SignalRecord(number, f"(row {number} could not be split)", None, text)
            continue
        cells = {k: v for k, v in row.items() if k is not None and v != ""}
        bad = next((k for k, v in cells.items() if isinstance(v, str) and _undecoded(v)), None)
        if bad is None:
            yield _from_columns(number, cells, limits)
            continue
        as_bytes = {k: v.encode("utf-8", "surrogateescape") for k, v in cells.items() if v}
        wrong = b""
        try:
            as_bytes[bad].decode("utf-8")
        except UnicodeDecodeError as error:
            wrong = as_bytes[bad][error.start : error.start + 8]
        shown = {k: v.decode("utf-8", "backslashreplace") for k, v in as_bytes.items()}
        yield SignalRecord(
            number,
            json.dumps(shown, sort_keys=True)[: SHOWN_CHARS * 5],
            None,
            f"not_utf8: row {number} is not UTF-8 text: bytes {wrong!r} in {bad}",
            bad,
            error_reason="not_utf8",
        )


def _rows(reader: "csv.DictReader[str]") -> Iterator[dict[str | Any, str | Any] | csv.Error]:
    """Each row, or the ``csv.Error`` it raised (a field over the size limit): the reader
    drops the rest of that line and goes on, so one bad row does not refuse the file."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield error


def _undecoded(text: str) -> bool:
    """Whether decoding left bytes as surrogates (valid UTF-8 never decodes to one)."""
    return any("\udc80" <= char <= "\udcff" for char in text)


def _parquet(path: Path, limits: DocumentLimits) -> list[SignalRecord]:
    table = pq.read_table(path)
    return [
        _from_columns(number, {k: v for k, v in row.items() if v is not None}, limits)
        for number, row in enumerate(table.to_pylist(), start=1)
    ]


def _from_columns(row: int, cells: Mapping[str, Any], limits: DocumentLimits) -> SignalRecord:
    raw_text = json.dumps(dict(cells), default=str, sort_keys=True)
    raw: dict[str, Any] = dict(cells)
    for name in JSON_COLUMNS:
        cell = raw.get(name)
        if isinstance(cell, str):
            try:
                raw[name] = loads_json(cell, limits)
            except DocumentLimitError as error:
                return SignalRecord(
                    row,
                    raw_text[: SHOWN_CHARS * 5],
                    None,
                    _problem(error),
                    name,
                    error_reason=error.reason,
                )
    for name in INT_COLUMNS:
        cell = raw.get(name)
        if not isinstance(cell, str):
            continue
        digits = cell.strip().removeprefix("-")
        if digits.isascii() and digits.isdigit() and len(digits) <= limits.max_number_chars:
            raw[name] = int(cell)  # left as text otherwise: validation names it
    cell = raw.get("confidence")
    if isinstance(cell, str):
        with contextlib.suppress(ValueError):  # left as text otherwise: validation names it
            raw["confidence"] = float(cell)
    return SignalRecord(row, raw_text, raw)


def _problem(error: DocumentLimitError) -> str:
    """The reason code first, so a reject says at a glance which bound a record broke."""
    return f"{error.reason}: {error.message}"
