"""``quantdesk data migrate``, ``data migrations``, ``data migration-rejects``: PostgreSQL
tables into the catalog (issue 16). Rendering lives in :mod:`migration_render`."""

import csv
import getpass
import json
import sys
import time
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.console import Console

from quantdesk.cli.errors import EXIT_DIFFERENCES, EXIT_NOTHING_VALID, reported_failures
from quantdesk.cli.migration_render import (
    differences_table,
    run_line,
    runs_table,
    verify_text,
)
from quantdesk.cli.progress import RichProgress
from quantdesk.cli.render import warnings_text
from quantdesk.domain.errors import SourceReadError
from quantdesk.domain.migration import MigrationRun
from quantdesk.domain.source_mapping import SourceMapping
from quantdesk.services.migrations import MigrationService, mapping_from_document
from quantdesk.services.platform import Platform

_Source = Annotated[
    str,
    typer.Option(
        "--source",
        envvar="QUANTDESK_MIGRATION_SOURCE",
        help="a source named in QUANTDESK_MIGRATION_SOURCES, or a postgresql:// URL (prefer "
        "a name or the variable: a password on a command line is visible to other users)",
        show_default=False,
    ),
]
_Mapping = Annotated[
    Path, typer.Option("--mapping", help="the mapping file (YAML or JSON)", show_default=False)
]
_Json = Annotated[bool, typer.Option("--json", help="JSON, machine-readable")]
_REJECT_PAGE = 10_000


def add_migration_commands(data: typer.Typer, out: Console, err: Console) -> None:
    @data.command("migrate")
    def data_migrate(
        ctx: typer.Context,
        mapping_file: _Mapping,
        source: _Source,
        restart: Annotated[
            bool,
            typer.Option(help="forget the mapping's watermark and migrate from the first row"),
        ] = False,
        follow: Annotated[
            bool, typer.Option(help="keep migrating new rows every --interval seconds")
        ] = False,
        interval: Annotated[
            float, typer.Option(min=1.0, max=86_400.0, help="seconds between --follow runs")
        ] = 60.0,
        actor: Annotated[str | None, typer.Option(help="who runs it (default: you)")] = None,
        as_json: _Json = False,
    ) -> None:
        """Migrate a PostgreSQL table's rows into the catalog, checksummed, chunk by chunk.

        A rerun takes only rows after the watermark (and re-reads days with late rows); a
        killed run resumes at its last committed chunk. Rejected rows are kept with their
        reason: see data migration-rejects. Exit code 3 when rows were read and none valid.
        """
        with reported_failures(err):
            platform: Platform = ctx.obj.platform
            service = platform.migrations
            mapping = _mapping(platform, mapping_file)
            url = service.source_url(source, allow_url=True)
            who = actor or getpass.getuser()
            run = _once(service, mapping, url, who, restart, err)
            _report(run, as_json, out)
            if not follow:
                if run.rows_read and run.rows_rejected == run.rows_read:
                    err.print(f"every row read was rejected: see {_rejects_command(run)}")
                    raise typer.Exit(EXIT_NOTHING_VALID)
                return
            _follow(service, mapping, url, who, interval, as_json, out, err)

    @data.command("verify")
    def data_verify(
        ctx: typer.Context,
        mapping_file: _Mapping,
        source: _Source,
        as_json: _Json = False,
    ) -> None:
        """Compare the migrated range on both sides, per instrument and UTC day: row counts
        and digests of the rows. Exit code 4 when any day differs; the migration is
        complete when this passes."""
        with reported_failures(err):
            platform: Platform = ctx.obj.platform
            service = platform.migrations
            mapping = _mapping(platform, mapping_file)
            url = service.source_url(source, allow_url=True)
            with RichProgress(err) as progress:
                report = service.verify(mapping, url, progress)
            if as_json:
                document = report.model_dump(mode="json")
                document.update(passed=report.passed, differences=len(report.differences))
                sys.stdout.write(json.dumps(document) + "\n")
            else:
                out.print(verify_text(report), highlight=False)
                if report.differences:
                    out.print(differences_table(report))
            if not report.passed:
                raise typer.Exit(EXIT_DIFFERENCES)

    @data.command("migrations")
    def data_migrations(
        ctx: typer.Context,
        mapping: Annotated[str | None, typer.Option(help="only this mapping's runs")] = None,
        limit: Annotated[int, typer.Option(min=1, max=10_000, help="newest runs shown")] = 20,
        as_json: _Json = False,
    ) -> None:
        """Migration runs, newest first: rows read, written, present, rejected, watermark."""
        with reported_failures(err):
            runs = ctx.obj.platform.migrations.runs(mapping, limit=limit)
            if as_json:
                for run in runs:
                    sys.stdout.write(run.model_dump_json() + "\n")
                return
            if not runs:
                out.print("No migration has run yet (see quantdesk data migrate --help).")
                return
            out.print(runs_table(runs))

    @data.command("migration-rejects")
    def data_migration_rejects(
        ctx: typer.Context,
        migration_id: Annotated[str, typer.Argument(help="the run's id (data migrations)")],
        output: Annotated[
            Path | None, typer.Option("--out", help="write the CSV here (default: stdout)")
        ] = None,
    ) -> None:
        """A run's rejected rows as CSV: row (the source row number), field, value, reason."""
        with reported_failures(err):
            service = ctx.obj.platform.migrations
            service.run(migration_id)  # an unknown id is an error, not an empty file
            if output is None:
                _write_rejects(service, migration_id, sys.stdout)
                return
            with output.open("w", newline="", encoding="utf-8") as handle:
                written = _write_rejects(service, migration_id, handle)
            err.print(f"{written} rejected row(s) written to {output}", highlight=False)


def _mapping(platform: Platform, path: Path) -> SourceMapping:
    return mapping_from_document(platform.documents.read_file(path))


def _once(
    service: MigrationService,
    mapping: SourceMapping,
    url: str,
    actor: str,
    restart: bool,
    err: Console,
) -> MigrationRun:
    with RichProgress(err) as progress:
        return service.migrate(mapping, url, actor=actor, restart=restart, progress=progress)


def _follow(
    service: MigrationService,
    mapping: SourceMapping,
    url: str,
    actor: str,
    interval: float,
    as_json: bool,
    out: Console,
    err: Console,
) -> None:
    """Rerun every ``interval`` seconds until interrupted; a lost connection is retried at
    the next tick (said on stderr), any other failure stops the loop."""
    err.print(f"following {mapping.name} every {interval:g} s; Ctrl-C stops", highlight=False)
    while True:
        try:
            time.sleep(interval)
        except KeyboardInterrupt:
            err.print("stopped following")
            return
        try:
            run = _once(service, mapping, url, actor, False, err)
        except SourceReadError as error:
            err.print(f"[yellow]source unavailable, retrying:[/] {error.message}")
            continue
        _report(run, as_json, out, brief=True)


def _report(run: MigrationRun, as_json: bool, out: Console, *, brief: bool = False) -> None:
    if as_json:
        sys.stdout.write(run.model_dump_json() + "\n")
        sys.stdout.flush()
        return
    if brief:
        out.print(run_line(run), highlight=False)
        return
    out.print(runs_table([run]))
    if run.rows_rejected:
        out.print(f"rejected rows: {_rejects_command(run)}", highlight=False)
    if run.warnings_by_kind:
        out.print(f"kept, but look wrong: {warnings_text(run.warnings_by_kind)}", highlight=False)
    if run.rows_read and not run.rows_written and run.rows_present:
        out.print("Nothing new: every valid row is already in the catalog.")


def _rejects_command(run: MigrationRun) -> str:
    return f"quantdesk data migration-rejects {run.migration_id}"


def _write_rejects(service: MigrationService, migration_id: str, handle: TextIO) -> int:
    writer = csv.writer(handle)
    writer.writerow(["row", "field", "value", "reason", "detail"])
    offset = 0
    while True:
        page = service.rejections(migration_id, offset=offset, limit=_REJECT_PAGE)
        for r in page:
            writer.writerow([r.row, r.field, r.value, r.reason.value, r.detail])
        offset += len(page)
        if len(page) < _REJECT_PAGE:
            return offset
