"""The signal journal's segments read back: good lines as signals, bad ones with the reason.

A bad line (not JSON, not a signal, a timestamp outside the valid range) is never fatal: the
next flush quarantines it as a rejected record, and readers see the good lines around it.
"""

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from quantdesk.domain.signals import TS_FIELDS, AISignal, SignalRejectReason


@dataclass(frozen=True, slots=True)
class BadLine:
    """A journal line that is not a storable signal, and why."""

    source: str
    line: int
    text: str
    reason: SignalRejectReason
    field: str
    detail: str
    at_ns: int

    def record(self) -> dict[str, object]:
        raw = _loads(self.text)
        signal_type, source_model = raw.get("signal_type"), raw.get("source_model")
        return {
            "source": self.source,
            "row": self.line,
            "raw": self.text,
            "reason": self.reason.value,
            "field": self.field,
            "value": repr(raw.get(self.field)) if self.field in raw else "",
            "detail": f"quarantined from the signal journal: {self.detail}",
            "signal_id": raw.get("signal_id") if isinstance(raw.get("signal_id"), str) else None,
            "signal_type": signal_type if isinstance(signal_type, str) else None,
            "source_model": source_model if isinstance(source_model, str) else None,
            "at_ns": self.at_ns,
        }


@dataclass(frozen=True, slots=True)
class SegmentLines:
    signals: list[AISignal]
    bad: list[BadLine]


def _loads(text: str) -> dict[str, object]:
    try:
        parsed = json.loads(text)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def read_lines(path: Path) -> SegmentLines:
    """Every complete line; a torn last line (a crash mid-write, never acknowledged) is skipped."""
    try:
        text = path.read_text()
    except FileNotFoundError:  # sealed or flushed by another process meanwhile
        return SegmentLines([], [])
    lines = text.split("\n")
    complete, torn = lines[:-1], lines[-1]
    del torn  # no newline: the append never returned, so nobody was told it was accepted
    signals: list[AISignal] = []
    bad: list[BadLine] = []
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        try:
            signals.append(AISignal.model_validate_json(line))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "record"
            reason = (
                SignalRejectReason.TS_OUT_OF_RANGE
                if where in TS_FIELDS
                else SignalRejectReason.MALFORMED
            )
            bad.append(
                BadLine(
                    f"journal:{path.name}",
                    number,
                    line,
                    reason,
                    where,
                    first["msg"],
                    time.time_ns(),
                )
            )
    return SegmentLines(signals, bad)


def read_segment(path: Path) -> Iterator[AISignal]:
    """The good lines of a segment (bad ones are quarantined by the next flush)."""
    yield from read_lines(path).signals


def journal_lines(path: Path) -> list[dict[str, object]]:
    """A segment's records as mappings (for inspection and tests)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
