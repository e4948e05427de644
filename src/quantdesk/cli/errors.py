"""How the CLI reports a failure: message, hint, and an exit code a script can test.

Expected failures (``QuantdeskError``) exit 2, or 3 when nothing was valid. Everything else
is a bug: the root command group catches it, whatever it is (a Rust panic included, which
pyo3 raises as a ``BaseException``), writes the traceback to the log and exits 1.
"""

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer._click import Context  # typer 0.29 vendors click: its context, not click's
from typer.core import TyperGroup

from quantdesk.cli.context import CliContext, resolve_home, unusable_home
from quantdesk.cli.crash_log import write_crash_report
from quantdesk.domain.errors import NothingValidError, QuantdeskError

EXIT_UNEXPECTED = 1
EXIT_INVALID = 2
EXIT_NOTHING_VALID = 3
EXIT_DIFFERENCES = 4  # data verify: the two sides differ
EXIT_INTERRUPTED = 130
# Control flow, not failures: typer renders its own (usage errors exit 2, --help exits 0);
# TyperException is the base of click's ClickException (UsageError, BadParameter) in typer.
# A closed pipe (``quantdesk data lineage --json | head``) typer quiets itself.
_PASS_THROUGH = (typer.Exit, typer.Abort, typer.TyperException, SystemExit, BrokenPipeError)


@contextmanager
def reported_failures(console: Console) -> Iterator[None]:
    try:
        yield
    except NothingValidError as error:
        _fail(console, error, EXIT_NOTHING_VALID)
    except QuantdeskError as error:
        _fail(console, error, EXIT_INVALID)


CLI_HINTS: dict[str, str] = {
    "instrument_exists": "pass --replace to redefine it (only allowed while it has no data)",
    "invalid_bar_spec": "e.g. --bar-spec 1-MINUTE-LAST",
    "volume_column_missing": "map it with --volume-col NAME or pass --default-volume V",
    "range_too_short": "widen --start/--end, or produce over more data",
    "kill_switch_not_thrown": "see quantdesk risk status",
    "run_not_found": "see quantdesk runs list",
    "run_id_missing": "see quantdesk runs list",
    "custom_objective_weights": "give objective: {weights: {sharpe: 1, max_drawdown: 2}} "
    "in the --space file",
    "invalid_objective": "--objective sharpe|sortino|calmar|return|custom",
    "study_mismatch": "pass another --study NAME, or repeat the study's --space, "
    "--objective, --sampler and --seed",
    "invalid_study_name": "e.g. --study trend-syn01-sharpe",
    "no_search_space": "give --space FILE naming the parameters and their ranges",
    "invalid_trials": "e.g. --trials 50",
    "not_validated": "run quantdesk validation run ID@VERSION; or an admin runs quantdesk "
    "validation override ID@VERSION --reason TEXT",
    "tag_reserved": "quantdesk validation run ID@VERSION tags a version that passes",
    "mapping_changed": "give the mapping another name, or pass --restart to migrate it again "
    "from the first row",
    "chunk_digest_mismatch": "run quantdesk data verify --mapping FILE --source NAME",
    "source_not_found": "name one of QUANTDESK_MIGRATION_SOURCES, or give a postgresql:// URL",
    "migration_not_found": "see quantdesk data migrations",
    "migration_not_started": "run quantdesk data migrate --mapping FILE --source NAME first",
    "rerun_mismatch": "the study's report is written; see its re-runs with quantdesk runs show RUN",
}
"""The CLI's own hint per error code: the service's hint names no flag or command."""


def hint_of(error: QuantdeskError) -> str | None:
    return CLI_HINTS.get(error.code, error.hint)


def _fail(console: Console, error: QuantdeskError, code: int) -> NoReturn:
    console.print(f"[bold red]error:[/] {escape(error.message)}", highlight=False)
    hint = hint_of(error)
    if hint:
        console.print(f"[yellow]hint:[/] {escape(hint)}", highlight=False)
    raise typer.Exit(code)


class GuardedGroup(TyperGroup):
    """The root group: no exception leaves a command as a traceback.

    Set with ``typer.Typer(cls=GuardedGroup)``; every subcommand runs inside ``invoke``, so
    no command needs a guard of its own. ``main`` covers the little that runs before
    (option parsing).
    """

    command_line: tuple[str, ...] = ()  # as given to main, for the log

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except _PASS_THROUGH:
            raise
        except BaseException as error:
            _handle(error, _home_of(ctx), self.command_line)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        given = sys.argv[1:] if args is None else list(args)
        self.command_line = ("quantdesk", *given)
        try:
            return super().main(
                args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra
            )
        except _PASS_THROUGH:
            raise
        except BaseException as error:
            if not standalone_mode:
                raise
            try:
                _handle(error, _home_from_args(given), self.command_line)
            except typer.Exit as exit_:
                sys.exit(exit_.exit_code)


def _handle(error: BaseException, home: Path, command_line: Sequence[str]) -> NoReturn:
    if isinstance(error, GeneratorExit):
        raise error
    if isinstance(error, KeyboardInterrupt):
        typer.echo("interrupted", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if isinstance(error, OSError):  # "runs" is a file, the disk is full: the user's to fix
        error = unusable_home(home, error) or error
    if isinstance(error, QuantdeskError):  # a command without reported_failures: still expected
        _fail(Console(stderr=True, soft_wrap=True), error, _code_of(error))
    report = write_crash_report(error, home, command_line)
    typer.echo(report.line(error), err=True)
    raise typer.Exit(EXIT_UNEXPECTED) from None


def _code_of(error: QuantdeskError) -> int:
    return EXIT_NOTHING_VALID if isinstance(error, NothingValidError) else EXIT_INVALID


def _home_of(ctx: Context) -> Path:
    if isinstance(ctx.obj, CliContext):
        return ctx.obj.resolved_home
    home = ctx.params.get("home")
    return resolve_home(home if isinstance(home, Path) else None)


def _home_from_args(args: list[str]) -> Path:
    """The ``--home`` of a command line that failed before it was parsed."""
    for index, arg in enumerate(args):
        if arg.startswith("--home="):
            return resolve_home(Path(arg.removeprefix("--home=")))
        if arg == "--home" and index + 1 < len(args):
            return resolve_home(Path(args[index + 1]))
    return resolve_home(None)
