"""The product job kinds on a real desk (run inline: the worker processes are tested in
test_job_workers.py): an upload ingested then removed, a path outside the uploads refused,
a signal file through the gate, a validation's report as the result."""

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from fakes import InlineJobRunner, InMemoryJobStore
from quantdesk.domain.jobs import JobKind, JobRecord, JobState
from quantdesk.services.jobs import JobService
from quantdesk.services.platform import Platform
from support.bars import rows
from support.registry import trend
from support.signals import raw_signal

WriteCsv = Callable[..., Path]


def jobs_on(desk: Platform) -> JobService:
    jobs = JobService(InMemoryJobStore(), InlineJobRunner(desk))
    jobs.start()
    return jobs


def uploaded(desk: Platform, source: Path) -> Path:
    folder = desk.home / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(source, folder / source.name))


def ended(jobs: JobService, job: JobRecord) -> JobRecord:
    return jobs.get(job.job_id)


def test_an_uploaded_bar_file_is_ingested_and_then_removed(
    desk_with_equity: Platform, write_csv: WriteCsv
) -> None:
    jobs = jobs_on(desk_with_equity)
    path = uploaded(desk_with_equity, write_csv(rows(50)))
    job = jobs.submit(
        JobKind.INGEST_BARS,
        {
            "path": str(path),
            "instrument_id": "ACME.XNAS",
            "bar_spec": "1-MINUTE-LAST",
            "options": {},
        },
        submitted_by="ana",
        subject="ACME.XNAS",
    )
    done = ended(jobs, job)
    assert done.state is JobState.COMPLETED, done.error
    assert done.result is not None
    assert (done.result["rows_read"], done.result["rows_written"]) == (50, 50)
    assert isinstance(done.result["ingest_id"], str)
    assert not path.exists()  # the upload is gone once ingested


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ({"path": "/etc/hostname"}, "only files uploaded"),
        ({"path": "UPLOAD/../../outside.csv"}, "only files uploaded"),
        ({"path": "UPLOAD", "options": {"columns": {"nope": "x"}}}, "options are not valid"),
        ({"path": "UPLOAD", "instrument_id": 7}, "'instrument_id'"),
    ],
)
def test_an_ingest_job_refuses_what_it_must_not_read(
    desk_with_equity: Platform, write_csv: WriteCsv, payload: dict[str, object], why: str
) -> None:
    jobs = jobs_on(desk_with_equity)
    path = uploaded(desk_with_equity, write_csv(rows(3)))
    outside = desk_with_equity.home.parent / "outside.csv"
    shutil.copy(path, outside)
    given = {"instrument_id": "ACME.XNAS", "bar_spec": "1-MINUTE-LAST"} | {
        key: str(value).replace("UPLOAD", str(path)) if key == "path" else value
        for key, value in payload.items()
    }
    done = ended(jobs, jobs.submit(JobKind.INGEST_BARS, given, submitted_by="ana"))
    assert done.state is JobState.FAILED
    assert done.error_code == "job_payload" and done.error is not None and why in done.error
    assert outside.exists()  # nothing outside the uploads is read or removed


def test_an_uploaded_signal_file_goes_through_the_gate(
    desk_with_equity: Platform, tmp_path: Path
) -> None:
    source = tmp_path / "signals.jsonl"
    good = [raw_signal() for _ in range(3)]
    source.write_text("\n".join(json.dumps(r) for r in [*good, {**good[0]}]) + "\n")
    jobs = jobs_on(desk_with_equity)
    path = uploaded(desk_with_equity, source)
    done = ended(jobs, jobs.submit(JobKind.INGEST_SIGNALS, {"path": str(path)}, submitted_by="a"))
    assert done.state is JobState.COMPLETED, done.error
    assert done.result is not None
    assert (done.result["records_read"], done.result["accepted"]) == (4, 3)
    assert done.result["rejected_by_reason"] == {"duplicate_id": 1}
    assert not path.exists()


def test_a_validation_job_s_result_is_the_version_s_report(desk: Platform) -> None:
    desk.registry.register(trend(), "alice")  # its instrument is not in this catalog
    jobs = jobs_on(desk)
    done = ended(
        jobs,
        jobs.submit(JobKind.VALIDATION, {"ref": "trend-a", "smoke": False}, submitted_by="a"),
    )
    assert done.state is JobState.COMPLETED, done.error
    assert done.result is not None
    assert (done.result["ref"], done.result["ok"]) == ("trend-a@1", False)
    problems = done.result["problems"]
    assert isinstance(problems, list) and {p["check"] for p in problems} == {"data"}  # type: ignore[index]
    assert desk.compatibility.outcomes("trend-a")[1].ok is False  # stored as its outcome
    refused = jobs.submit(JobKind.VALIDATION, {"ref": "trend-a", "smoke": "yes"}, submitted_by="a")
    assert ended(jobs, refused).error_code == "job_payload"
    unknown = jobs.submit(JobKind.VALIDATION, {"ref": "nope"}, submitted_by="a")
    assert ended(jobs, unknown).state is JobState.FAILED
