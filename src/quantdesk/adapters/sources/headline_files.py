"""Headline files for the sentiment producer: CSV or JSON lines of timestamp, instrument, text.

- CSV: a header row naming ``timestamp``, ``instrument`` and ``text`` (any order, more
  columns ignored); quote texts that hold commas.
- JSON lines (``.jsonl``, ``.ndjson``, ``.json``): one object per line with those keys.

``timestamp`` is ISO-8601 with a zone (``2024-01-01T09:30:00Z``) or an integer of ns since the
epoch. A line that breaks these rules stops the read with its line number: a news feed with a
wrong time would put views where they do not belong, so nothing is guessed. Each line is
judged alone and within the document limits: a line that is not UTF-8 (``not_utf8``), too
long, too deep or holding a huge number is named with its reason code, never an exception.
"""

import csv
import hashlib
import io
from datetime import datetime
from pathlib import Path

from quantdesk.adapters.sources.line_files import json_lines
from quantdesk.domain.documents import DEFAULT_LIMITS, DocumentLimits
from quantdesk.domain.errors import SourceReadError
from quantdesk.domain.time import in_ts_range, ts_range_text
from quantdesk.services.ports import Headline, HeadlineFeed

_FIELDS = ("timestamp", "instrument", "text")
_JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}


class HeadlineFileSource:
    def __init__(self, limits: DocumentLimits = DEFAULT_LIMITS) -> None:
        self._limits = limits

    def read_headlines(self, path: Path) -> HeadlineFeed:
        try:
            data = path.read_bytes()
        except OSError as error:
            raise SourceReadError(f"cannot read headlines file {path}: {error}") from error
        rows = (
            _json_rows(path, data, self._limits)
            if path.suffix.lower() in _JSON_SUFFIXES
            else _csv_rows(path, _text(path, data))
        )
        headlines = tuple(
            sorted(
                (_headline(path, line, row) for line, row in rows),
                key=lambda h: (h.ts_ns, h.instrument_id, h.text),
            )
        )
        digest = hashlib.sha256(data).hexdigest()[:16]
        return HeadlineFeed(source_id=f"{path.name}@sha256:{digest}", headlines=headlines)


def _csv_rows(path: Path, text: str) -> list[tuple[int, dict[str, object]]]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [f for f in _FIELDS if f not in (reader.fieldnames or [])]
    if missing:
        raise SourceReadError(
            f"{path}: the header lacks {', '.join(missing)}",
            hint="a CSV header row: timestamp,instrument,text",
        )
    return [(reader.line_num, dict(row)) for row in reader]


def _text(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        wrong = data[error.start : error.start + 8]
        raise SourceReadError(
            f"{path}:{line}: not_utf8: the line is not UTF-8 text: bytes {wrong!r}"
        ) from None


def _json_rows(
    path: Path, data: bytes, limits: DocumentLimits
) -> list[tuple[int, dict[str, object]]]:
    rows = []
    for line in json_lines(io.BytesIO(data), limits):
        if line.error is not None:
            raise SourceReadError(
                f"{path}:{line.number}: {line.error.reason}: {line.error.message}"
            )
        if not isinstance(line.value, dict):
            raise SourceReadError(f"{path}:{line.number}: a line must be a JSON object")
        rows.append((line.number, line.value))
    return rows


def _headline(path: Path, line: int, row: dict[str, object]) -> Headline:
    where = f"{path}:{line}"
    instrument = row.get("instrument")
    body = row.get("text")
    if not isinstance(instrument, str) or not instrument.strip():
        raise SourceReadError(f"{where}: instrument is missing")
    if not isinstance(body, str) or not body.strip():
        raise SourceReadError(f"{where}: text is missing")
    return Headline(
        ts_ns=_timestamp(where, row.get("timestamp")),
        instrument_id=instrument.strip(),
        text=body.strip(),
    )


def _timestamp(where: str, value: object) -> int:
    ns = _ns(where, value)
    if not in_ts_range(ns):
        raise SourceReadError(
            f"{where}: timestamp {value!r} is outside the valid time range ({ts_range_text()})"
        )
    return ns


def _ns(where: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str) or not value.strip():
        raise SourceReadError(f"{where}: timestamp is missing")
    text = value.strip()
    if text.isascii() and text.isdigit() and len(text) <= 20:  # ns fit in 20 digits
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise SourceReadError(f"{where}: timestamp {text!r} is not ISO-8601") from error
    if moment.tzinfo is None:
        raise SourceReadError(
            f"{where}: timestamp {text!r} has no timezone", hint="e.g. 2024-01-01T09:30:00Z"
        )
    whole = int(moment.replace(microsecond=0).timestamp())
    return whole * 1_000_000_000 + moment.microsecond * 1_000
