"""Signal rejects, dead letters and the signal event log: JSON lines under ``signals/``.

Each is append-only. Records are written whole with one ``write`` (``O_APPEND``), so
writers in several processes do not interleave inside a line, and a reader skips a last
line without its newline (a write cut by a crash). Dead letters are never edited:
replaying one appends a ``replayed`` line that cancels it.
"""

import json
import logging
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quantdesk.domain.signal_routing import (
    DeadLetter,
    RejectedSignal,
    SignalEvent,
    SignalEventKind,
)
from quantdesk.domain.signals import AISignal

LOGGER_NAME = "quantdesk.signals"


def _append_line(path: Path, record: dict[str, Any], *, sync: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open() as handle:
        for line in handle:
            if line.endswith("\n") and line.strip():
                yield json.loads(line)


class JsonLinesRejectStore:
    """``SignalRejectStore``: ``signals/rejects/<batch id>.jsonl``, one rejected record a line."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory

    def record(self, batch_id: str, rejected: Sequence[RejectedSignal]) -> Path | None:
        """Append the batch's rejects to ``<batch_id>.jsonl`` in one ``write``."""
        if not rejected:
            return None
        path = self._dir / f"{batch_id}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(
            json.dumps(asdict(r), separators=(",", ":"), sort_keys=True) + "\n" for r in rejected
        ).encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
        return path

    def rejected(self) -> list[RejectedSignal]:
        """Once per key: a reject kept twice (two ingests racing) still counts once."""
        found: list[RejectedSignal] = []
        seen: set[str] = set()
        for record in self._records():
            key = record.get("key")
            if key is not None:
                if key in seen:
                    continue
                seen.add(key)
            found.append(RejectedSignal(**record))
        return found

    def keys(self) -> set[str]:
        return {r["key"] for r in self._records() if r.get("key") is not None}

    def _records(self) -> Iterator[dict[str, Any]]:
        if not self._dir.is_dir():
            return
        for path in sorted(self._dir.glob("*.jsonl")):
            yield from _lines(path)


class JsonLinesDeadLetterStore:
    """``DeadLetterStore``: ``signals/dead_letters.jsonl``; entries then replay marks."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def put(self, letter: DeadLetter) -> None:
        record = {
            "entry": "dead_letter",
            "dead_letter_id": letter.dead_letter_id,
            "consumer_id": letter.consumer_id,
            "signal": json.loads(letter.signal.canonical_json()),
            "correlation_id": letter.correlation_id,
            "reason": letter.reason,
            "attempts": letter.attempts,
            "dead_lettered_at_ns": letter.dead_lettered_at_ns,
        }
        _append_line(self._path, record, sync=True)

    def mark_replayed(self, dead_letter_id: str, at_ns: int) -> None:
        record = {"entry": "replayed", "dead_letter_id": dead_letter_id, "at_ns": at_ns}
        _append_line(self._path, record, sync=True)

    def letters(self, *, include_replayed: bool = False) -> list[DeadLetter]:
        letters: dict[str, DeadLetter] = {}
        replayed: dict[str, int] = {}
        for record in _lines(self._path):
            if record["entry"] == "replayed":
                replayed[record["dead_letter_id"]] = int(record["at_ns"])
                continue
            letters[record["dead_letter_id"]] = DeadLetter(
                dead_letter_id=record["dead_letter_id"],
                consumer_id=record["consumer_id"],
                signal=AISignal.model_validate(record["signal"]),
                correlation_id=record["correlation_id"],
                reason=record["reason"],
                attempts=int(record["attempts"]),
                dead_lettered_at_ns=int(record["dead_lettered_at_ns"]),
            )
        found = []
        for letter_id, letter in letters.items():
            if letter_id in replayed:
                if not include_replayed:
                    continue
                letter = DeadLetter(**{**_fields(letter), "replayed_at_ns": replayed[letter_id]})
            found.append(letter)
        return found


def _fields(letter: DeadLetter) -> dict[str, Any]:
    return {name: getattr(letter, name) for name in DeadLetter.__slots__}


class JsonLinesSignalEventLog:
    """``SignalEventSink``: every event to ``signals/events/<UTC day>.jsonl`` and to logging.

    Lines are buffered and written on ``flush`` (every ``buffer`` events, and at exit of
    each use case), so the live path does not pay a system call per event; the logging
    record (logger ``quantdesk.signals``, ``extra={"signal_event": {...}}``) is immediate.
    """

    def __init__(self, directory: Path, *, buffer: int = 1024) -> None:
        self._dir = directory
        self._buffer_size = buffer
        self._pending: list[str] = []
        self._logger = logging.getLogger(LOGGER_NAME)

    def emit(self, event: SignalEvent) -> None:
        record = _event_record(event)
        if self._logger.isEnabledFor(logging.INFO):
            self._logger.info(
                "signal %s %s", event.kind.value, event.signal_id, extra={"signal_event": record}
            )
        self._pending.append(json.dumps(record, separators=(",", ":")) + "\n")
        if len(self._pending) >= self._buffer_size:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        lines, self._pending = self._pending, []
        day = datetime.now(tz=UTC).strftime("%Y-%m-%d")
        self._dir.mkdir(parents=True, exist_ok=True)
        data = "".join(lines).encode()
        fd = os.open(self._dir / f"{day}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
        finally:
            os.close(fd)

    def events(self) -> Iterator[dict[str, Any]]:
        self.flush()
        if not self._dir.is_dir():
            return
        for path in sorted(self._dir.glob("*.jsonl")):
            yield from _lines(path)

    def counts(self, kind: SignalEventKind) -> dict[tuple[str, str], int]:
        totals: Counter[tuple[str, str]] = Counter()
        for record in self.events():
            if record["kind"] == kind.value:
                key = (record.get("signal_type") or "?", record.get("source_model") or "?")
                totals[key] += 1
        return dict(totals)


def _event_record(event: SignalEvent) -> dict[str, Any]:
    record: dict[str, Any] = {
        "kind": event.kind.value,
        "signal_id": event.signal_id,
        "correlation_id": event.correlation_id,
        "at_ns": event.at_ns,
    }
    for name in ("signal_type", "source_model", "instrument_id", "consumer_id"):
        value = getattr(event, name)
        if value is not None:
            record[name] = value
    if event.fields:
        record["fields"] = dict(event.fields)
    return record
