"""What each kind of job does, in its worker: one of the platform's use cases, with the
job's payload and a progress reporter that reaches the service.

Handlers are module-level functions (the runner pickles them by name into a worker) that take
the worker's own ``Platform``. Payloads come from the service's routes, but are checked here
all the same: an ingest reads only files under the desk's uploads folder, and removes the
upload when it is done with it.
"""

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import JsonValue, ValidationError

from quantdesk.domain.compatibility import CompatibilityReport
from quantdesk.domain.errors import InvalidInputError, NotFoundError
from quantdesk.domain.jobs import JobKind
from quantdesk.domain.market_data import BarIngestOptions
from quantdesk.domain.source_mapping import SourceMapping
from quantdesk.services.job_progress import (
    BACKTEST_TASKS,
    MIGRATION_TASKS,
    VERIFY_TASKS,
    PercentProgress,
)
from quantdesk.services.ports.jobs import JobChannel, JobHandler

if TYPE_CHECKING:
    from quantdesk.services.platform import Platform

UPLOADS = "uploads"


def _text(payload: Mapping[str, JsonValue], key: str, limit: int = 1000) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise InvalidInputError(
            f"the job's payload needs {key!r}: a text of 1 to {limit} characters",
            code="job_payload",
            data={"field": key},
        )
    return value


def upload_path(platform: "Platform", payload: Mapping[str, JsonValue]) -> Path:
    """The payload's file, which must be inside the desk's uploads folder."""
    uploads = (platform.home / UPLOADS).resolve()
    path = Path(_text(payload, "path", 4096)).resolve()
    if not path.is_relative_to(uploads):
        raise InvalidInputError(
            "an ingest job reads only files uploaded to the service",
            code="job_payload",
            data={"field": "path"},
        )
    if not path.is_file():
        raise NotFoundError(
            "the uploaded file of this job is gone", code="upload_not_found", data={}
        )
    return path


def run_backtest(
    platform: "Platform", payload: Mapping[str, JsonValue], channel: JobChannel
) -> dict[str, JsonValue]:
    """Execute a submitted run (its request is stored with it); percent from simulated time."""
    run_id = _text(payload, "run_id", 200)
    result = platform.backtests.execute(run_id, PercentProgress(channel, BACKTEST_TASKS))
    return {
        "run_id": result.run_id,
        "fingerprint": result.fingerprint,
        "status": str(result.status),
    }


def ingest_bars(
    platform: "Platform", payload: Mapping[str, JsonValue], channel: JobChannel
) -> dict[str, JsonValue]:
    """An uploaded bar file into the catalog; the result is the ingest's summary."""
    path = upload_path(platform, payload)
    try:
        raw_options = payload.get("options") or {}
        try:
            options = BarIngestOptions.model_validate(raw_options)
        except ValidationError as error:
            first = error.errors()[0]
            raise InvalidInputError(
                f"the ingest options are not valid: {'.'.join(map(str, first['loc']))}: "
                f"{first['msg']}",
                code="job_payload",
                data={"field": "options"},
            ) from None
        summary = platform.ingest.ingest_bars(
            path,
            _text(payload, "instrument_id", 200),
            _text(payload, "bar_spec", 200),
            options,
            PercentProgress(channel),
        )
        result: dict[str, JsonValue] = summary.model_dump(mode="json")
        return result
    finally:
        path.unlink(missing_ok=True)


def ingest_signals(
    platform: "Platform", payload: Mapping[str, JsonValue], channel: JobChannel
) -> dict[str, JsonValue]:
    """An uploaded signal file through the same gate as the CLI's; the summary back."""
    path = upload_path(platform, payload)
    try:
        summary = platform.signals.ingest_file(path)
        return dict(dataclasses.asdict(summary))
    finally:
        path.unlink(missing_ok=True)


def validate_strategy(
    platform: "Platform", payload: Mapping[str, JsonValue], channel: JobChannel
) -> dict[str, JsonValue]:
    """Every compatibility check of one version (the smoke backtest unless turned off)."""
    smoke = payload.get("smoke", True)
    signals = payload.get("signals", False)
    if not isinstance(smoke, bool) or not isinstance(signals, bool):
        raise InvalidInputError(
            "the job's 'smoke' and 'signals' are true or false", code="job_payload"
        )
    stored = platform.registry.resolve(_text(payload, "ref", 200))
    report = platform.compatibility.check(stored, replay_signals=signals, smoke=smoke)
    return {"ref": stored.ref, **report_json(report)}


def run_validation(
    platform: "Platform", payload: Mapping[str, JsonValue], channel: JobChannel
) -> dict[str, JsonValue]:
    """The validation pipeline on one version (``validation run``); a version that fails the
    gate still completes the job: the verdict is its result."""
    from quantdesk.services.validation.job import validation_job

    return validation_job(platform, payload, channel)


def run_optimisation(
    platform: "Platform", payload: Mapping[str, JsonValue], channel: JobChannel
) -> dict[str, JsonValue]:
    """A stored parameter study (``optimize``); its result is the study's summary."""
    from quantdesk.services.optimisation.job import optimisation_job

    return optimisation_job(platform, payload, channel)


def migrate_table(
    platform: "Platform", payload: Mapping[str, JsonValue], channel: JobChannel
) -> dict[str, JsonValue]:
    """A table's new rows into the catalog from a configured source; the result is the run."""
    migrations = platform.migrations
    mapping = _mapping(payload)
    run = migrations.migrate(
        mapping,
        migrations.source_url(_text(payload, "source", 40), allow_url=False),
        actor=_text(payload, "actor", 200),
        restart=payload.get("restart") is True,
        progress=PercentProgress(channel, MIGRATION_TASKS),
    )
    result: dict[str, JsonValue] = run.model_dump(mode="json")
    return result


def verify_migration(
    platform: "Platform", payload: Mapping[str, JsonValue], channel: JobChannel
) -> dict[str, JsonValue]:
    """Both sides of a mapping's migrated range; the verdict (and the days that differ, the
    first thousand) is the result, a failed verify is still a completed job."""
    migrations = platform.migrations
    source = migrations.source_url(_text(payload, "source", 40), allow_url=False)
    report = migrations.verify(_mapping(payload), source, PercentProgress(channel, VERIFY_TASKS))
    differing = report.differences
    return {
        "mapping_name": report.mapping_name,
        "passed": report.passed,
        "days": len(report.days),
        "differences": len(differing),
        "rows_source": report.rows_source,
        "rows_catalog": report.rows_catalog,
        "rows_rejected": report.rows_rejected,
        "watermark": None if report.watermark is None else str(report.watermark.timestamp),
        "differing_days": [d.model_dump(mode="json") for d in differing[:1_000]],
    }


def _mapping(payload: Mapping[str, JsonValue]) -> SourceMapping:
    try:
        return SourceMapping.model_validate(payload.get("mapping"))
    except ValidationError as error:
        first = error.errors()[0]
        raise InvalidInputError(
            f"the job's mapping is not valid: {'.'.join(map(str, first['loc']))}: {first['msg']}"[
                :500
            ],
            code="job_payload",
            data={"field": "mapping"},
        ) from None


def report_json(report: CompatibilityReport) -> dict[str, JsonValue]:
    return {
        "ok": report.ok,
        "problems": [{"check": p.check.value, "reason": p.reason} for p in report.problems],
        "skipped": [{"check": p.check.value, "reason": p.reason} for p in report.skipped],
        "smoke_seconds": report.smoke_seconds,
        "checked_at_ns": report.checked_at_ns,
    }


HANDLERS: Mapping[JobKind, JobHandler] = {
    JobKind.BACKTEST: run_backtest,
    JobKind.INGEST_BARS: ingest_bars,
    JobKind.INGEST_SIGNALS: ingest_signals,
    JobKind.VALIDATION: validate_strategy,
    JobKind.VALIDATION_RUN: run_validation,
    JobKind.OPTIMISATION: run_optimisation,
    JobKind.MIGRATION: migrate_table,
    JobKind.MIGRATION_VERIFY: verify_migration,
}
