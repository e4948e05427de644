"""``quantdesk validation``: the promotion gate's validation runs, their records and reports,
the policies that judge them, and the admin's override (distinct from ``strategy validate``,
the compatibility check).

``validation run`` exits ``EXIT_GATE_FAILED`` when the version fails the gate (the run itself
worked: its record and report are stored either way).
"""

import getpass
import json
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any, cast

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from quantdesk.cli.errors import reported_failures
from quantdesk.cli.progress import RichProgress
from quantdesk.cli.timestamps import parse_utc
from quantdesk.domain.errors import InvalidInputError, QuantdeskError
from quantdesk.domain.strategies.versions import parse_ref
from quantdesk.domain.time import ns_to_text
from quantdesk.domain.validation.policy import DEFAULT_POLICY_NAME, StoredPolicy
from quantdesk.domain.validation.report import Check, ValidationRecord, ValidationReport
from quantdesk.services.ports import SilentProgress
from quantdesk.services.ports.validation import ValidationRunner
from quantdesk.services.research_parts import ResearchParts
from quantdesk.services.validation.job import record_json

EXIT_GATE_FAILED = 6
"""``validation run``: the version failed the gate (1 is a bug, 2 an input refused)."""

_Json = Annotated[bool, typer.Option("--json", help="machine-readable JSON")]
_Actor = Annotated[
    str | None, typer.Option("--actor", help="who does this (default: you)", show_default=False)
]


def add_validation_commands(app: typer.Typer, out: Console, err: Console) -> None:
    validation = typer.Typer(
        no_args_is_help=True,
        help="Validate versions for trading: walk-forward, overfitting, stress, Monte Carlo, "
        "baselines, compliance; the promotion gate and its policies.",
    )
    policy = typer.Typer(no_args_is_help=True, help="Validation policies, versioned.")
    app.add_typer(validation, name="validation")
    validation.add_typer(policy, name="policy")

    def research(ctx: typer.Context) -> ResearchParts:
        parts: ResearchParts = ctx.obj.platform.research
        return parts

    @validation.command("run")
    def run(
        ctx: typer.Context,
        ref: Annotated[str, typer.Argument(help="ID@VERSION (or ID@TAG)")],
        policy_name: Annotated[
            str | None, typer.Option("--policy", help="policy name (default: default)")
        ] = None,
        start: Annotated[str | None, typer.Option(help="first day, e.g. 2024-01-01")] = None,
        end: Annotated[str | None, typer.Option(help="last moment, e.g. 2024-06-30")] = None,
        workers: Annotated[
            int | None, typer.Option(min=1, max=256, help="local worker processes")
        ] = None,
        ray: Annotated[
            str | None,
            typer.Option("--ray", help="Ray cluster address (auto or HOST:PORT)"),
        ] = None,
        actor: _Actor = None,
        as_json: _Json = False,
    ) -> None:
        """Run every step of the policy; the verdict, the failed checks and the report."""
        with reported_failures(err):
            parts = research(ctx)
            runner = cast(ValidationRunner, parts.validation)
            start_ns = None if start is None else parse_utc(start, "--start")
            end_ns = None if end is None else parse_utc(end, "--end")
            with nullcontext(SilentProgress()) if as_json else RichProgress(err) as progress:
                record = runner.run(
                    ref,
                    policy=policy_name,
                    start_ns=start_ns,
                    end_ns=end_ns,
                    workers=workers,
                    ray_address=ray,
                    actor=actor or getpass.getuser(),
                    progress=progress,
                )
            if as_json:
                out.print_json(json.dumps(record_json(record)))
            else:
                _print_verdict(out, record, _report_or_none(parts, record))
            if not record.passed:
                raise typer.Exit(EXIT_GATE_FAILED)

    @validation.command("list")
    def list_(
        ctx: typer.Context,
        strategy: Annotated[
            str | None, typer.Argument(help="ID or ID@VERSION (default: every strategy)")
        ] = None,
        limit: Annotated[int, typer.Option(min=1, max=10_000, help="at most this many")] = 50,
        as_json: _Json = False,
    ) -> None:
        """Validation records, newest first."""
        with reported_failures(err):
            strategy_id, version = (None, None) if strategy is None else _id_version(strategy)
            found = research(ctx).promotion.records(strategy_id, version, limit=limit)
            if as_json:
                out.print_json(json.dumps([record_json(r) for r in found]))
                return
            if not found:
                out.print("No validation yet (run one: quantdesk validation run ID@VERSION).")
                return
            out.print(_records_table(found))

    @validation.command("show")
    def show(
        ctx: typer.Context,
        validation_id: Annotated[str, typer.Argument(help="a validation's id")],
        as_json: _Json = False,
    ) -> None:
        """One validation: every step and check with its numbers (--json: the whole report)."""
        with reported_failures(err):
            parts = research(ctx)
            record = parts.promotion.get(validation_id)
            report = parts.promotion.report(record.validation_id)
            if as_json:
                out.print(report.model_dump_json(indent=2), highlight=False, soft_wrap=True)
                return
            _print_verdict(out, record, report)
            out.print(_checks_table(report))

    @validation.command("report")
    def report_path(
        ctx: typer.Context,
        validation_id: Annotated[str, typer.Argument(help="a validation's id")],
    ) -> None:
        """The HTML report's path (open it in a browser)."""
        with reported_failures(err):
            parts = research(ctx)
            out.print(str(parts.promotion.reports.html(validation_id)), highlight=False)

    @validation.command("status")
    def status(
        ctx: typer.Context,
        ref: Annotated[str, typer.Argument(help="ID@VERSION (or ID@TAG)")],
        as_json: _Json = False,
    ) -> None:
        """Whether a version may trade, and the evidence (record or override) either way."""
        with reported_failures(err):
            stored = ctx.obj.platform.registry.resolve(ref)
            now = research(ctx).promotion.status(stored.strategy_id, stored.version)
            if as_json:
                out.print_json(
                    json.dumps(
                        {
                            "ref": now.ref,
                            "tradable": now.tradable,
                            "reason": now.reason,
                            "latest": None if now.latest is None else record_json(now.latest),
                            "override": None
                            if now.override is None
                            else now.override.model_dump(mode="json"),
                        }
                    )
                )
                return
            word = "[green]tradable[/]" if now.tradable else "[red]not tradable[/]"
            out.print(f"{now.ref}: {word} ({escape(now.reason)})", highlight=False)

    @validation.command("override")
    def override(
        ctx: typer.Context,
        ref: Annotated[str, typer.Argument(help="ID@VERSION")],
        reason: Annotated[str, typer.Option(help="why it may trade unvalidated (audited)")],
        actor: _Actor = None,
    ) -> None:
        """Let a version trade without a passing validation (an admin's decision, audited)."""
        with reported_failures(err):
            stored = ctx.obj.platform.registry.resolve(_pinned(ref))
            done = research(ctx).promotion.override(
                stored.strategy_id, stored.version, actor or getpass.getuser(), reason
            )
            out.print(f"{stored.ref}: override recorded by {escape(done.actor)}", highlight=False)

    # --- policies ------------------------------------------------------------------------

    @policy.command("show")
    def policy_show(
        ctx: typer.Context,
        name: Annotated[str | None, typer.Argument(help="policy name")] = None,
        version: Annotated[int | None, typer.Option(min=1, help="this version")] = None,
        as_json: _Json = False,
    ) -> None:
        """A policy as a file would hold it (the newest version unless --version)."""
        with reported_failures(err):
            policies = research(ctx).policies
            stored = (
                policies.current(name)
                if version is None
                else policies.get(name or DEFAULT_POLICY_NAME, version)
            )
            document = stored.policy.model_dump(mode="json")
            if as_json:
                out.print_json(json.dumps({**_policy_meta(stored), "policy": document}))
                return
            out.print(
                f"# {stored.name}@{stored.version}  sha256 {stored.sha256[:12]}  "
                f"by {escape(stored.author)} at {ns_to_text(stored.created_at_ns)}",
                highlight=False,
            )
            out.print(escape(yaml.safe_dump(document, sort_keys=False)), highlight=False, end="")

    @policy.command("set")
    def policy_set(
        ctx: typer.Context,
        file: Annotated[Path, typer.Argument(help="policy (YAML or JSON)")],
        actor: _Actor = None,
    ) -> None:
        """Store a policy file: a new version when its content changed."""
        with reported_failures(err):
            platform = ctx.obj.platform
            policies = research(ctx).policies
            document = platform.documents.read_file(file)
            stored, created = policies.set_document(document, actor or getpass.getuser())
            if not created:
                out.print(f"{stored.name}@{stored.version}: unchanged")
            else:
                out.print(f"{stored.name}@{stored.version}: stored (sha256 {stored.sha256[:12]})")

    @policy.command("history")
    def policy_history(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="policy name")] = DEFAULT_POLICY_NAME,
        as_json: _Json = False,
    ) -> None:
        """Every version of a policy, oldest first."""
        with reported_failures(err):
            versions = research(ctx).policies.history(name)
            if as_json:
                out.print_json(json.dumps([_policy_meta(v) for v in versions]))
                return
            table = Table(title=f"Policy {escape(name)}")
            for column in ("version", "sha256", "author", "created"):
                table.add_column(column)
            for stored in versions:
                table.add_row(
                    str(stored.version),
                    stored.sha256[:12],
                    escape(stored.author),
                    ns_to_text(stored.created_at_ns),
                )
            out.print(table)


def _pinned(ref: str) -> str:
    _, selector = parse_ref(ref)
    if selector is None:
        raise InvalidInputError(f"{ref!r} names no version", hint="write ID@VERSION, e.g. ema@2")
    return ref


def _id_version(text: str) -> tuple[str, int | None]:
    strategy_id, selector = parse_ref(text)
    if selector is None:
        return strategy_id, None
    if not selector.isdigit():
        raise InvalidInputError(f"{text!r}: give ID or ID@VERSION (a number)")
    return strategy_id, int(selector)


def _policy_meta(stored: StoredPolicy) -> dict[str, Any]:
    return {
        "name": stored.name,
        "version": stored.version,
        "sha256": stored.sha256,
        "author": stored.author,
        "created_at_ns": stored.created_at_ns,
    }


def _report_or_none(parts: ResearchParts, record: ValidationRecord) -> ValidationReport | None:
    try:
        return parts.promotion.report(record.validation_id)
    except QuantdeskError:  # the verdict stands without its report's numbers
        return None


def _print_verdict(out: Console, record: ValidationRecord, report: ValidationReport | None) -> None:
    verdict = "[bold green]PASSED[/]" if record.passed else "[bold red]FAILED[/]"
    out.print(
        f"{record.ref}: {verdict} validation {record.validation_id} "
        f"(policy {escape(record.policy_name)}@{record.policy_version}, "
        f"{record.trials_run} trials)",
        highlight=False,
    )
    failed: list[Check] = [] if report is None else report.failed_checks
    for check in failed:
        out.print(f"  failed: {escape(_check_text(check))}", highlight=False)
    if report is None:
        for name in record.failed_checks:
            out.print(f"  failed: {escape(name)}", highlight=False)
    out.print(f"report: {escape(record.report_path)}", highlight=False)


def _check_text(check: Check) -> str:
    value = "n/a" if check.value is None else f"{check.value:.4g}"
    threshold = "-" if check.threshold is None else f"{check.threshold:.4g}"
    detail = f" ({check.detail})" if check.detail else ""
    return f"{check.name} [{check.step.value}]: {value} {check.comparison} {threshold}{detail}"


def _checks_table(report: ValidationReport) -> Table:
    table = Table(title=f"Checks of {report.validation_id}")
    for column in ("step", "check", "value", "threshold", "result"):
        table.add_column(column)
    for step in report.steps:
        if step.skipped:
            table.add_row(step.step.value, "-", "-", "-", f"skipped: {escape(step.skipped)}")
        for check in step.checks:
            table.add_row(
                step.step.value,
                escape(check.name),
                "n/a" if check.value is None else f"{check.value:.4g}",
                "-" if check.threshold is None else f"{check.comparison} {check.threshold:.4g}",
                "[green]pass[/]" if check.passed else "[red]FAIL[/]",
            )
    return table


def _records_table(records: list[ValidationRecord]) -> Table:
    table = Table(title="Validations")
    for column in ("id", "version", "verdict", "policy", "failed checks", "finished"):
        table.add_column(column)
    for record in records:
        table.add_row(
            record.validation_id,
            record.ref,
            "[green]passed[/]" if record.passed else "[red]failed[/]",
            f"{escape(record.policy_name)}@{record.policy_version}",
            escape(", ".join(record.failed_checks)) or "-",
            ns_to_text(record.finished_at_ns),
        )
    return table
