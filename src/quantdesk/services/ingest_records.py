"""What an ingest left behind: a bar ingest's summary and rejected rows, a signal batch's
rejected records; looked up by id for the service's downloads.

Ids are checked against the shapes the ingests make before any path is built from them, so
no id names a file outside the ingest folders.
"""

import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from quantdesk.domain.errors import InvalidInputError, NotFoundError
from quantdesk.domain.market_data import IngestSummary
from quantdesk.domain.text import shown

_BAR_INGEST = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}")  # services/ingest.py new_ingest_id
_SIGNAL_BATCH = re.compile(r"ingest-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}")  # signals new_batch_id
SUMMARY_FILE = "summary.json"
BAR_REJECTS_FILE = "rejects.csv"


@dataclass(frozen=True)
class RejectsFile:
    path: Path
    media_type: str
    filename: str


class IngestRecords:
    def __init__(self, ingest_dir: Path, signal_rejects_dir: Path) -> None:
        self._ingest_dir = ingest_dir
        self._signal_rejects_dir = signal_rejects_dir

    def summary(self, ingest_id: str) -> IngestSummary:
        """A bar ingest's summary (one that accepted nothing left only its rejects)."""
        if _BAR_INGEST.fullmatch(ingest_id) is None:
            raise _not_found(ingest_id, "ingest_not_found")
        path = self._ingest_dir / ingest_id / SUMMARY_FILE
        try:
            return IngestSummary.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            raise _not_found(ingest_id, "ingest_not_found") from None
        except (OSError, ValidationError) as error:
            raise InvalidInputError(
                f"the summary of ingest {ingest_id} cannot be read: {type(error).__name__}",
                code="ingest_unreadable",
                data={"ingest_id": ingest_id},
            ) from None

    def rejects(self, ingest_id: str) -> RejectsFile:
        """The rejected rows of a bar ingest (CSV) or records of a signal batch (JSON lines)."""
        if _BAR_INGEST.fullmatch(ingest_id) is not None:
            path = self._ingest_dir / ingest_id / BAR_REJECTS_FILE
            found = RejectsFile(path, "text/csv", f"rejects-{ingest_id}.csv")
        elif _SIGNAL_BATCH.fullmatch(ingest_id) is not None:
            path = self._signal_rejects_dir / f"{ingest_id}.jsonl"
            found = RejectsFile(path, "application/x-ndjson", f"rejects-{ingest_id}.jsonl")
        else:
            raise _not_found(ingest_id, "rejects_not_found")
        if not found.path.is_file():
            raise _not_found(ingest_id, "rejects_not_found")
        return found


def _not_found(ingest_id: str, code: str) -> NotFoundError:
    what = "rejected records" if code == "rejects_not_found" else "ingest"
    return NotFoundError(
        f"no {what} for ingest {shown(ingest_id)}",
        code=code,
        data={"ingest_id": ingest_id[:64]},
    )
