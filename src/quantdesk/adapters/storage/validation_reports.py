"""``FileValidationReports``: each report as ``<validation_id>/report.json`` + ``report.html``.

The folder is written under a hidden partial name and renamed into place, so a report is
either all there or absent (a crash mid-write leaves no half report a record could name).
The HTML comes from the reporting adapter through ``render`` (storage never imports it).
"""

import os
import re
import shutil
from pathlib import Path

from quantdesk.domain.errors import ConflictError, InvalidInputError, NotFoundError
from quantdesk.domain.validation.report import ValidationReport
from quantdesk.services.ports.validation import ReportRender

REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_PARTIAL = ".partial"


class FileValidationReports:
    """The ``ValidationReports`` port on a folder (``settings.validations_dir``)."""

    def __init__(self, root: Path, render: ReportRender) -> None:
        self._root = root
        self._render = render

    def save(self, report: ValidationReport) -> str:
        final = self._folder(report.validation_id)
        if final.exists():
            raise ConflictError(
                f"validation {report.validation_id} is already stored at {final}",
                code="validation_exists",
                data={"validation_id": report.validation_id},
            )
        self._root.mkdir(parents=True, exist_ok=True)
        partial = self._root / f".{report.validation_id}{_PARTIAL}"
        shutil.rmtree(partial, ignore_errors=True)  # left by a crash: never became a report
        partial.mkdir()
        try:
            with (partial / REPORT_HTML).open("w", encoding="utf-8") as out:
                self._render(report, out)
            _fsync(partial / REPORT_HTML)
            (partial / REPORT_JSON).write_text(report.model_dump_json(indent=1), encoding="utf-8")
            _fsync(partial / REPORT_JSON)
            _fsync(partial)
            partial.rename(final)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        _fsync(self._root)
        return str(final)

    def load(self, validation_id: str) -> ValidationReport:
        path = self._existing(validation_id, REPORT_JSON)
        return ValidationReport.model_validate_json(path.read_text(encoding="utf-8"))

    def html(self, validation_id: str) -> Path:
        return self._existing(validation_id, REPORT_HTML)

    def _existing(self, validation_id: str, name: str) -> Path:
        path = self._folder(validation_id) / name
        if not path.is_file():
            raise NotFoundError(
                f"there is no report of validation {validation_id}",
                hint="see the validations of a strategy version",
                code="validation_not_found",
                data={"validation_id": validation_id},
            )
        return path

    def _folder(self, validation_id: str) -> Path:
        """An id becomes a folder name: one plain path component, or refused."""
        if _ID.fullmatch(validation_id) is None:
            raise InvalidInputError(
                f"validation id {validation_id[:80]!r} is not valid: 1-64 of A-Z a-z 0-9 _ -",
                code="invalid_validation_id",
                data={"validation_id": validation_id[:80]},
            )
        return self._root / validation_id


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
