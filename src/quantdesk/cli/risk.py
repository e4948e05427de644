"""``quantdesk risk``: the desk's kill switches."""

import getpass
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from quantdesk.cli.errors import reported_failures
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.risk import KillSwitchScope
from quantdesk.domain.time import ns_to_text

_AllFlag = Annotated[bool, typer.Option("--all", help="the whole portfolio")]
_StrategyFlag = Annotated[str | None, typer.Option("--strategy", help="one strategy id")]
_InstrumentFlag = Annotated[str | None, typer.Option("--instrument", help="one instrument id")]


def add_risk_commands(app: typer.Typer, out: Console, err: Console) -> None:
    risk = typer.Typer(no_args_is_help=True, help="Kill switches for live and paper trading.")
    app.add_typer(risk, name="risk")

    @risk.command("kill")
    def kill(
        ctx: typer.Context,
        reason: Annotated[str, typer.Option(help="why (kept in the log)")],
        all_: _AllFlag = False,
        strategy: _StrategyFlag = None,
        instrument: _InstrumentFlag = None,
        actor: Annotated[str | None, typer.Option(help="who throws it (default: you)")] = None,
    ) -> None:
        """Halt trading: every session stops sending orders in that scope from the next one on."""
        with reported_failures(err):
            scope, target = _scope(all_, strategy, instrument)
            switch = ctx.obj.platform.risk.kill(scope, target, reason, actor or getpass.getuser())
            out.print(f"thrown: {switch.scope.value} {switch.target}".rstrip())

    @risk.command("release")
    def release(
        ctx: typer.Context,
        all_: _AllFlag = False,
        strategy: _StrategyFlag = None,
        instrument: _InstrumentFlag = None,
        actor: Annotated[str | None, typer.Option(help="who releases it (default: you)")] = None,
    ) -> None:
        """Release a thrown kill switch."""
        with reported_failures(err):
            scope, target = _scope(all_, strategy, instrument)
            ctx.obj.platform.risk.release(scope, target, actor or getpass.getuser())
            out.print(f"released: {scope.value} {target}".rstrip())

    @risk.command("status")
    def status(ctx: typer.Context) -> None:
        """The kill switches thrown now."""
        with reported_failures(err):
            switches = ctx.obj.platform.risk.status()
            if not switches:
                out.print("No kill switch is thrown.")
                return
            table = Table(title="Kill switches")
            for column in ("scope", "target", "since", "by", "reason"):
                table.add_column(column)
            for s in switches:
                table.add_row(
                    s.scope.value, s.target or "-", ns_to_text(s.thrown_at_ns), s.actor, s.reason
                )
            out.print(table)


def _scope(all_: bool, strategy: str | None, instrument: str | None) -> tuple[KillSwitchScope, str]:
    chosen = [
        (KillSwitchScope.PORTFOLIO, "") if all_ else None,
        (KillSwitchScope.STRATEGY, strategy) if strategy else None,
        (KillSwitchScope.INSTRUMENT, instrument) if instrument else None,
    ]
    picked = [c for c in chosen if c is not None]
    if len(picked) != 1:
        raise InvalidInputError("choose exactly one of --all, --strategy ID, --instrument ID")
    return picked[0]
