"""Signal files: JSON lines, CSV or Parquet, read into records that validation judges.

Layouts (one signal per line / row):

- JSON lines (``.jsonl``, ``.ndjson``, ``.json``): each line an ``AISignal`` object.
- CSV (``.csv``, header row) and Parquet (``.parquet``): columns ``signal_id``,
  ``signal_type``, ``instrument_id``, ``ts_event``, ``ts_init`` (int ns UTC), ``confidence``,
  ``source_model``, and ``value``, ``provenance``, ``metadata`` (optional) holding JSON text.

Nothing is judged here: a line that is not JSON, or a cell that does not parse, becomes a
record with an error, rejected as ``malformed`` with its row and field.
"""

import contextlib
import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from quantdesk.domain.errors import SourceReadError
from quantdesk.services.ports import SignalRecord

JSON_COLUMNS = ("value", "provenance", "metadata")
INT_COLUMNS = ("ts_event", "ts_init")
JSON_LINES = {".jsonl", ".ndjson", ".json"}


class SignalFileSource:
    """``SignalRecordSource`` for JSON lines, CSV and Parquet signal files."""

    def read_signals(self, path: Path) -> list[SignalRecord]:
        if not path.is_file():
            raise SourceReadError(f"{path}: no such file", hint="check the path")
        suffix = path.suffix.lower()
        try:
            if suffix in JSON_LINES:
                return _json_lines(path)
            if suffix == ".csv":
                return _csv(path)
            if suffix == ".parquet":
                return _parquet(path)
        except (OSError, UnicodeDecodeError, csv.Error, pa.ArrowException) as error:
            raise SourceReadError(f"{path}: cannot be read: {error}") from error
        raise SourceReadError(
            f"{path}: unknown signal file type {suffix or '(none)'}",
            hint="use .jsonl (JSON lines), .csv or .parquet",
        )


def _json_lines(path: Path) -> list[SignalRecord]:
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text:
                continue
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError as error:
                records.append(SignalRecord(number, text, None, f"not JSON: {error.msg}"))
                continue
            if not isinstance(parsed, dict):
                records.append(
                    SignalRecord(number, text, None, "a signal line must be a JSON object")
                )
                continue
            records.append(SignalRecord(number, text, parsed))
    return records


def _csv(path: Path) -> list[SignalRecord]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:
            return []
        return [
            _from_columns(number, {k: v for k, v in row.items() if k is not None and v != ""})
            for number, row in enumerate(reader, start=2)  # line 1 is the header
        ]


def _parquet(path: Path) -> list[SignalRecord]:
    table = pq.read_table(path)
    return [
        _from_columns(number, {k: v for k, v in row.items() if v is not None})
        for number, row in enumerate(table.to_pylist(), start=1)
    ]


def _from_columns(row: int, cells: Mapping[str, Any]) -> SignalRecord:
    raw_text = json.dumps(dict(cells), default=str, sort_keys=True)
    raw: dict[str, Any] = dict(cells)
    for name in JSON_COLUMNS:
        cell = raw.get(name)
        if isinstance(cell, str):
            try:
                raw[name] = json.loads(cell)
            except json.JSONDecodeError as error:
                return SignalRecord(row, raw_text, None, f"not JSON: {error.msg}", name)
    for name in INT_COLUMNS:
        cell = raw.get(name)
        if isinstance(cell, str) and cell.strip().lstrip("-").isdigit():
            raw[name] = int(cell)
    cell = raw.get("confidence")
    if isinstance(cell, str):
        with contextlib.suppress(ValueError):  # left as text otherwise: validation names it
            raw["confidence"] = float(cell)
    return SignalRecord(row, raw_text, raw)
