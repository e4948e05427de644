"""``quantdesk strategy validate`` and how a validation outcome is shown (show, history)."""

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from quantdesk.cli.errors import reported_failures
from quantdesk.domain.compatibility import CompatibilityReport
from quantdesk.domain.time import ns_to_text

EXIT_NOT_VALID = 5
"""``strategy validate`` found problems (1 is a bug, 2 an input the command could not take)."""

_Json = Annotated[bool, typer.Option("--json", help="machine-readable JSON")]


def add_validate_command(strategy: typer.Typer, out: Console, err: Console) -> None:
    @strategy.command("validate")
    def validate(
        ctx: typer.Context,
        ref: Annotated[str, typer.Argument(help="ID, ID@VERSION or ID@TAG")],
        signals: Annotated[
            bool,
            typer.Option(
                "--signals", help="replay is intended: the subscribed signals must be buffered"
            ),
        ] = False,
        smoke: Annotated[
            bool, typer.Option("--smoke/--no-smoke", help="run the short smoke backtest")
        ] = True,
        as_json: _Json = False,
    ) -> None:
        """Check a version can run on this desk (every check, every reason); exit 5 if not."""
        with reported_failures(err):
            stored = ctx.obj.platform.registry.resolve(ref)
            report = ctx.obj.platform.compatibility.check(
                stored, replay_signals=signals, smoke=smoke
            )
        if as_json:
            out.print_json(json.dumps({"ref": stored.ref, **(outcome_json(report) or {})}))
        elif report.ok:
            took = (
                "" if report.smoke_seconds is None else f", smoke run {report.smoke_seconds:.1f} s"
            )
            out.print(f"{stored.ref}: validated ok{took}", highlight=False)
        else:
            err.print(
                f"[bold red]{escape(stored.ref)}: not valid[/], {len(report.problems)} problem(s)",
                highlight=False,
            )
            for problem in report.problems:
                err.print(f"  {escape(str(problem))}", highlight=False)
        if not as_json:
            for skip in report.skipped:
                (out if report.ok else err).print(f"  skipped {escape(str(skip))}", highlight=False)
        if not report.ok:
            raise typer.Exit(EXIT_NOT_VALID)


def outcome_text(report: CompatibilityReport | None, *, short: bool = False) -> str:
    """``validated ok at ...``, ``failed at ...: reasons`` or ``not validated yet``."""
    if report is None:
        return "-" if short else "not validated yet"
    if short:
        return "ok" if report.ok else f"failed ({len(report.problems)})"
    at = ns_to_text(report.checked_at_ns)
    if report.ok:
        return f"validated ok at {at}"
    return f"failed at {at}: " + "; ".join(str(p) for p in report.problems)


def outcome_json(report: CompatibilityReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {
        "ok": report.ok,
        "content_hash": report.content_hash,
        "checked_at_ns": report.checked_at_ns,
        "engine_version": report.engine_version,
        "problems": [{"check": p.check.value, "reason": p.reason} for p in report.problems],
        "skipped": [{"check": p.check.value, "reason": p.reason} for p in report.skipped],
        "smoke_seconds": report.smoke_seconds,
    }
