"""Headline files for the sentiment producer: CSV or JSON lines of timestamp, instrument, text.

- CSV: a header row naming ``timestamp``, ``instrument`` and ``text`` (any order, more
  columns ignored); quote texts that hold commas.
- JSON lines (``.jsonl``, ``.ndjson``, ``.json``): one object per line with those keys.

``timestamp`` is ISO-8601 with a zone (``2024-01-01T09:30:00Z``) or an integer of ns since the
epoch. A line that breaks these rules stops the read with its line number: a news feed with a
wrong time would put views where they do not belong, so nothing is guessed.
"""

import csv
import hashlib
import io
import json
from datetime import datetime
from pathlib import Path

from quantdesk.domain.errors import SourceReadError
from quantdesk.services.ports import Headline, HeadlineFeed

_FIELDS = ("timestamp", "instrument", "text")
_JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}


class HeadlineFileSource:
    def read_headlines(self, path: Path) -> HeadlineFeed:
        try:
            data = path.read_bytes()
        except OSError as error:
            raise SourceReadError(f"cannot read headlines file {path}: {error}") from error
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise SourceReadError(f"{path} is not UTF-8 text: {error}") from error
        rows = (
            _json_rows(path, text)
            if path.suffix.lower() in _JSON_SUFFIXES
            else _csv_rows(path, text)
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


def _json_rows(path: Path, text: str) -> list[tuple[int, dict[str, object]]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise SourceReadError(f"{path}:{number}: not JSON ({error.msg})") from error
        if not isinstance(value, dict):
            raise SourceReadError(f"{path}:{number}: a line must be a JSON object")
        rows.append((number, value))
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
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str) or not value.strip():
        raise SourceReadError(f"{where}: timestamp is missing")
    text = value.strip()
    if text.isdigit():
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
