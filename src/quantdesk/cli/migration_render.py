"""Migration runs for the terminal: a table of runs and one line per ``--follow`` run."""

from collections.abc import Sequence
from datetime import date, timedelta

from rich.table import Table

from quantdesk.cli.render import warnings_text
from quantdesk.domain.migration import MigrationRun, VerifyReport, Watermark
from quantdesk.domain.time import ns_to_text

_EPOCH = date(1970, 1, 1)


def runs_table(runs: Sequence[MigrationRun]) -> Table:
    table = Table(title="Migrations")
    for column in (
        "run",
        "mapping",
        "state",
        "read",
        "written",
        "already there",
        "rejected",
        "chunks",
        "watermark",
        "late days",
        "started",
    ):
        numeric = column in ("read", "written", "already there", "rejected", "chunks")
        table.add_column(
            column,
            justify="right" if numeric else "left",
            no_wrap=column in ("run", "mapping"),  # ids are copied: never cut
            min_width=len(runs[0].migration_id) if column == "run" and runs else None,
        )
    for run in runs:
        table.add_row(
            run.migration_id,
            run.mapping_name,
            run.state.value if run.error is None else f"{run.state.value}: {run.error[:80]}",
            f"{run.rows_read:,}",
            f"{run.rows_written:,}",
            f"{run.rows_present:,}",
            f"{run.rows_rejected:,}",
            str(run.chunks),
            watermark_text(run.watermark),
            days_text(run.late_days, run.shrunk_days),
            ns_to_text(run.started_ns - run.started_ns % 1_000_000_000),
        )
    return table


def run_line(run: MigrationRun) -> str:
    """One ``--follow`` run: what it took, in a line a log keeps."""
    return (
        f"{ns_to_text(run.started_ns)} {run.migration_id}: read {run.rows_read:,}, "
        f"written {run.rows_written:,}, rejected {run.rows_rejected:,}, "
        f"watermark {watermark_text(run.watermark)}"
        + (f", late days {days_text(run.late_days, [])}" if run.late_days else "")
        + (f", warnings {warnings_text(run.warnings_by_kind)}" if run.warnings_by_kind else "")
    )


def watermark_text(watermark: Watermark | None) -> str:
    return "-" if watermark is None else str(watermark.timestamp)


def days_text(late: Sequence[int], shrunk: Sequence[int]) -> str:
    """Source days (days since 1970-01-01 in the source's own clock) as dates."""
    parts = [_day(d) for d in late[:5]] + [f"{_day(d)} (fewer rows)" for d in shrunk[:5]]
    more = max(len(late) - 5, 0) + max(len(shrunk) - 5, 0)
    return ", ".join(parts) + (f" +{more}" if more else "") if parts else "-"


def _day(day: int) -> str:
    try:
        return (_EPOCH + timedelta(days=day)).isoformat()
    except OverflowError:
        return str(day)


def verify_text(report: VerifyReport) -> str:
    """The verdict, then what was compared."""
    differing = len(report.differences)
    verdict = (
        f"verify passed: {report.mapping_name} is complete through "
        f"{watermark_text(report.watermark)}"
        if report.passed
        else f"verify FAILED: {differing} of {len(report.days)} instrument-day(s) differ"
    )
    return (
        f"{verdict}\n{len(report.days)} instrument-day(s); source {report.rows_source:,} rows "
        f"read ({report.rows_rejected:,} rejected as the migration rejects them); catalog "
        f"{report.rows_catalog:,} rows"
    )


def differences_table(report: VerifyReport, limit: int = 50) -> Table:
    differing = report.differences
    shown = differing[:limit]
    more = f" (first {limit} of {len(differing)})" if len(differing) > limit else ""
    table = Table(title=f"Days that differ{more}")
    for column in ("instrument", "day (UTC)", "source rows", "catalog rows", "digests"):
        table.add_column(column, justify="right" if "rows" in column else "left")
    for day in shown:
        digests = "equal" if day.source_sha256 == day.catalog_sha256 else "differ"
        table.add_row(
            day.instrument_id,
            day.day,
            f"{day.source_rows:,}",
            f"{day.catalog_rows:,}",
            digests,
        )
    return table
