"""``quantdesk strategy``, ``quantdesk audit`` and ``quantdesk db``: the strategy registry."""

import getpass
import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from quantdesk.cli.errors import reported_failures
from quantdesk.cli.strategy_export import add_export_command
from quantdesk.cli.strategy_files import load_definition
from quantdesk.cli.strategy_validation import add_validate_command, outcome_json, outcome_text
from quantdesk.domain.compatibility import CompatibilityReport
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.strategies.families import StrategyFamily, parameter_schema
from quantdesk.domain.strategies.versions import StrategyVersion, parse_ref
from quantdesk.domain.time import ns_to_text

EXIT_AUDIT_BROKEN = 4

_Author = Annotated[
    str | None, typer.Option("--author", help="who makes the change (default: you)")
]
_Reason = Annotated[str, typer.Option(help="why (kept with the version and in the audit log)")]
_Json = Annotated[bool, typer.Option("--json", help="machine-readable JSON")]


def add_strategy_commands(app: typer.Typer, out: Console, err: Console) -> None:
    strategy = typer.Typer(
        no_args_is_help=True, help="The strategy registry: versioned, audited definitions."
    )
    audit = typer.Typer(no_args_is_help=True, help="The append-only, hash-chained audit log.")
    db = typer.Typer(no_args_is_help=True, help="The registry's database.")
    app.add_typer(strategy, name="strategy")
    app.add_typer(audit, name="audit")
    app.add_typer(db, name="db")
    add_export_command(strategy, out, err)
    add_validate_command(strategy, out, err)

    def register(ctx: typer.Context, file: Path, author: str | None, reason: str, how: str) -> None:
        with reported_failures(err):
            definition = load_definition(file, ctx.obj.platform.documents)
            registry = ctx.obj.platform.registry
            method = {"add": registry.add, "update": registry.update}[how]
            result = method(definition, author or getpass.getuser(), reason)
            stored = result.stored
            if result.created:
                out.print(f"{stored.ref}: registered (content {stored.content_hash[:12]})")
            else:
                out.print(
                    f"{stored.ref}: unchanged (this content is already version {stored.version})"
                )

    def register_command(how: str, help_: str) -> None:
        """``strategy add`` and ``strategy update`` take the same arguments and differ only in
        the registry call, so one body serves both."""

        @strategy.command(how, help=help_)
        def command(
            ctx: typer.Context,
            file: Annotated[Path, typer.Argument(help="definition (YAML or JSON)")],
            author: _Author = None,
            reason: _Reason = "",
        ) -> None:
            register(ctx, file, author, reason, how)

    register_command(
        "add", "Register a new strategy (version 1); the same file again changes nothing."
    )
    register_command(
        "update", "Register a changed definition of an existing strategy as its next version."
    )

    @strategy.command("list")
    def list_(
        ctx: typer.Context,
        family: Annotated[StrategyFamily | None, typer.Option(help="only this family")] = None,
        tag: Annotated[str | None, typer.Option(help="only the versions tagged so")] = None,
        as_json: _Json = False,
    ) -> None:
        """Each strategy's newest version (with --tag: the version carrying that tag)."""
        with reported_failures(err):
            versions = ctx.obj.platform.registry.list(family=family, tag=tag)
            if as_json:
                out.print_json(json.dumps([_summary(v) for v in versions]))
                return
            if not versions:
                out.print("No strategy matches (add one: quantdesk strategy add FILE.yaml).")
                return
            out.print(_versions_table("Strategies", versions, with_id=True))

    @strategy.command("show")
    def show(
        ctx: typer.Context,
        ref: Annotated[str, typer.Argument(help="ID, ID@VERSION or ID@TAG")],
        as_json: _Json = False,
    ) -> None:
        """One version in full: its definition as a file would hold it, and its metadata."""
        with reported_failures(err):
            stored = ctx.obj.platform.registry.resolve(ref)
            outcome = ctx.obj.platform.compatibility.latest(stored)
            if as_json:
                document = {**_summary(stored), **stored.definition.document()}
                out.print_json(json.dumps({**document, "validation": outcome_json(outcome)}))
                return
            out.print(f"# {stored.ref}  content sha256 {stored.content_hash}", highlight=False)
            out.print(f"# validation: {escape(outcome_text(outcome))}", highlight=False)
            definition = stored.definition
            created = "-" if definition.created_at is None else definition.created_at.isoformat()
            out.print(f"# by {definition.author} at {created}", highlight=False)
            if definition.reason:
                out.print(f"# reason: {escape(definition.reason)}", highlight=False)
            if stored.tags:
                out.print(f"# tags: {', '.join(stored.tags)}", highlight=False)
            if stored.deprecation is not None:
                out.print(f"# DEPRECATED: {escape(stored.deprecation.reason)}", highlight=False)
            text = yaml.safe_dump(definition.content(), sort_keys=False, allow_unicode=True)
            out.print(escape(text), highlight=False, end="")

    @strategy.command("history")
    def history(ctx: typer.Context, strategy_id: Annotated[str, typer.Argument()]) -> None:
        """Every version of a strategy, oldest first, with author, reason, tags, deprecation."""
        with reported_failures(err):
            versions = ctx.obj.platform.registry.history(strategy_id)
            outcomes = ctx.obj.platform.compatibility.outcomes(strategy_id)
            out.print(_versions_table(strategy_id, versions, with_id=False, outcomes=outcomes))

    @strategy.command("diff")
    def diff(
        ctx: typer.Context,
        strategy_id: Annotated[str, typer.Argument()],
        old: Annotated[int, typer.Argument(help="version")],
        new: Annotated[int, typer.Argument(help="version")],
        as_json: _Json = False,
    ) -> None:
        """Field-level changes between two versions."""
        with reported_failures(err):
            changes = ctx.obj.platform.registry.diff(strategy_id, old, new)
            if as_json:
                out.print_json(
                    json.dumps([{"path": c.path, "old": c.old, "new": c.new} for c in changes])
                )
                return
            if not changes:
                out.print(f"{strategy_id}@{old} and @{new} have the same content.")
                return
            table = Table(title=f"{strategy_id}: @{old} -> @{new}")
            for column in ("field", f"@{old}", f"@{new}"):
                table.add_column(column)
            for change in changes:
                table.add_row(change.path, _value(change.old), _value(change.new))
            out.print(table)

    @strategy.command("deprecate")
    def deprecate(
        ctx: typer.Context,
        ref: Annotated[str, typer.Argument(help="ID@VERSION")],
        reason: _Reason = "",
        author: _Author = None,
    ) -> None:
        """Mark a version deprecated (it stays stored and readable)."""
        with reported_failures(err):
            registry = ctx.obj.platform.registry
            stored = registry.resolve(_pinned(ref))
            registry.deprecate(
                stored.strategy_id, stored.version, author or getpass.getuser(), reason
            )
            out.print(f"{stored.ref}: deprecated")

    @strategy.command("tag")
    def tag(
        ctx: typer.Context,
        ref: Annotated[str, typer.Argument(help="ID@VERSION")],
        name: Annotated[str, typer.Argument(help="tag, e.g. validated or live")],
        author: _Author = None,
    ) -> None:
        """Point a tag at a version (it moves there from any other version of the strategy)."""
        with reported_failures(err):
            registry = ctx.obj.platform.registry
            stored = registry.resolve(_pinned(ref))
            registry.tag(stored.strategy_id, stored.version, name, author or getpass.getuser())
            out.print(f"{stored.ref}: tagged {name}")

    @strategy.command("schema")
    def schema(
        ctx: typer.Context,
        family: Annotated[StrategyFamily, typer.Argument(help="strategy family")],
        as_json: Annotated[bool, typer.Option("--json", help="the JSON schema itself")] = False,
    ) -> None:
        """The parameters of a family: type, default, bounds and meaning."""
        with reported_failures(err):
            document = parameter_schema(family)
            if as_json:
                out.print_json(json.dumps(document))
                return
            table = Table(title=f"{family.value} parameters")
            for column in ("parameter", "type", "default", "bounds", "description"):
                table.add_column(column)
            required = set(document.get("required", []))
            for name, spec in document["properties"].items():
                default = "(required)" if name in required else json.dumps(spec.get("default"))
                table.add_row(
                    name, _type(spec), default, _bounds(spec), spec.get("description", "")
                )
            out.print(table)

    @audit.command("verify")
    def verify(ctx: typer.Context) -> None:
        """Re-check the chain, its head and anchors, and replay it against the stored
        versions, tags and deprecations; name every break (exit code 4)."""
        with reported_failures(err):
            report = ctx.obj.platform.registry.verify_audit()
            checked = (
                f"{report.events} events, {report.anchors} run anchors, "
                f"{'keyed' if report.keyed else 'unkeyed (no audit key set)'}"
            )
            if not report.holds:
                err.print(
                    f"[bold red]audit log broken:[/] {len(report.breaks)} break(s) ({checked})",
                    highlight=False,
                )
                for broken in report.breaks:
                    err.print(f"  {escape(str(broken))}", highlight=False)
                raise typer.Exit(EXIT_AUDIT_BROKEN)
            out.print(f"audit log verified: {checked}; every link holds")

    @audit.command("list")
    def audit_list(
        ctx: typer.Context,
        after: Annotated[
            int, typer.Option(min=0, help="only events after this sequence number")
        ] = 0,
    ) -> None:
        """The audit events, oldest first."""
        with reported_failures(err):
            table = Table(title="Audit log")
            for column in ("seq", "time (UTC)", "actor", "action", "subject", "hash"):
                table.add_column(column)
            for event in ctx.obj.platform.registry.audit_events(after):
                table.add_row(
                    str(event.seq),
                    ns_to_text(event.at_ns),
                    event.actor,
                    event.action,
                    event.subject,
                    event.hash[:12],
                )
            out.print(table)

    @db.command("upgrade")
    def upgrade(ctx: typer.Context) -> None:
        """Apply pending migrations (they also run on first use)."""
        with reported_failures(err):
            database = ctx.obj.platform.database
            applied = database.upgrade()
            state = f"applied {', '.join(applied)}" if applied else "already up to date"
            out.print(f"{database.location}: {state} (revision {database.revision()})")


def _pinned(ref: str) -> str:
    _, selector = parse_ref(ref)
    if selector is None:
        raise InvalidInputError(f"{ref!r} names no version", hint="write ID@VERSION, e.g. ema@2")
    return ref


def _summary(stored: StrategyVersion) -> dict[str, Any]:
    return {
        "ref": stored.ref,
        "content_hash": stored.content_hash,
        "tags": list(stored.tags),
        "deprecated": stored.deprecation is not None,
    }


def _versions_table(
    title: str,
    versions: list[StrategyVersion],
    *,
    with_id: bool,
    outcomes: dict[int, CompatibilityReport] | None = None,
) -> Table:
    table = Table(title=title)
    columns = ["strategy"] if with_id else []
    columns += ["version", "family", "name", "created (UTC)", "author", "content", "tags"]
    columns += ["deprecated", "reason"] + ([] if outcomes is None else ["validation"])
    for column in columns:
        table.add_column(column)
    for stored in versions:
        definition = stored.definition
        created = definition.created_at
        row = [stored.strategy_id] if with_id else []
        row += [
            str(stored.version),
            definition.family.value,
            definition.name,
            "-" if created is None else created.strftime("%Y-%m-%d %H:%M:%S"),
            definition.author or "-",
            stored.content_hash[:12],
            ", ".join(stored.tags) or "-",
            "yes" if stored.deprecation else "-",
            definition.reason or "-",
        ]
        if outcomes is not None:
            row.append(outcome_text(outcomes.get(stored.version), short=True))
        table.add_row(*(escape(cell) for cell in row))
    return table


def _value(value: object) -> str:
    return "-" if value is None else escape(json.dumps(value))


def _type(spec: dict[str, Any]) -> str:
    if "enum" in spec:
        return " | ".join(str(v) for v in spec["enum"])
    if "const" in spec:
        return str(spec["const"])
    if "anyOf" in spec:
        return " | ".join(_type(option) for option in spec["anyOf"])
    return str(spec.get("type", "any"))


def _bounds(spec: dict[str, Any]) -> str:
    for option in spec.get("anyOf", []):
        if _bounds(option):
            return _bounds(option)
    lower = (
        f"{spec['minimum']} <= "
        if "minimum" in spec
        else f"{spec['exclusiveMinimum']} < "
        if "exclusiveMinimum" in spec
        else ""
    )
    upper = (
        f" <= {spec['maximum']}"
        if "maximum" in spec
        else f" < {spec['exclusiveMaximum']}"
        if "exclusiveMaximum" in spec
        else ""
    )
    return f"{lower}value{upper}" if lower or upper else "-"
