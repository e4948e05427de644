"""``quantdesk optimize ID@VERSION``: a stored, resumable parameter study on Optuna.

Running the same command again (same study name) continues the study where it stopped: a
killed run loses only its unfinished batch. The best trials are re-run as ordinary stored
runs and must reproduce; ``--register`` then registers the best parameters as a new version
whose reason names the study.
"""

import getpass
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from quantdesk.cli.errors import reported_failures
from quantdesk.cli.progress import RichProgress
from quantdesk.cli.timestamps import parse_utc
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.optimisation.study import ObjectiveKind, Sampler, StudyReport
from quantdesk.services.optimisation.objective import objective_of
from quantdesk.services.optimisation.service import OptimisationService
from quantdesk.services.ports import SilentProgress

_TOP_ROWS = 10


def add_optimize_command(app: typer.Typer, out: Console, err: Console) -> None:
    @app.command("optimize")
    def optimize(
        ctx: typer.Context,
        ref: Annotated[str, typer.Argument(help="ID@VERSION (or ID@TAG) to optimise")],
        space: Annotated[
            Path | None,
            typer.Option(
                "--space", help="search space YAML (default: derived from the family's bounds)"
            ),
        ] = None,
        trials: Annotated[int, typer.Option(min=1, max=100_000, help="trials in all")] = 50,
        objective: Annotated[
            str,
            typer.Option(help="sharpe|sortino|calmar|return|custom (weights in --space)"),
        ] = ObjectiveKind.SHARPE.value,
        sampler: Annotated[Sampler, typer.Option(help="grid, random or tpe")] = Sampler.TPE,
        seed: Annotated[int, typer.Option(min=0, max=2**32 - 1, help="sampler seed")] = 0,
        workers: Annotated[
            int | None, typer.Option(min=1, max=256, help="local worker processes")
        ] = None,
        ray: Annotated[
            str | None, typer.Option("--ray", help="Ray cluster address (auto or HOST:PORT)")
        ] = None,
        study: Annotated[
            str | None,
            typer.Option("--study", help="study name (default: ref, objective, sampler, seed)"),
        ] = None,
        start: Annotated[str | None, typer.Option(help="first day, e.g. 2024-01-01")] = None,
        end: Annotated[str | None, typer.Option(help="last moment, e.g. 2024-06-30")] = None,
        register: Annotated[
            bool, typer.Option("--register", help="register the best parameters as a version")
        ] = False,
        screen: Annotated[
            bool,
            typer.Option("--screen", help="rank the grid with the vectorised screen first"),
        ] = False,
        top: Annotated[int, typer.Option(min=0, max=20, help="best trials re-run")] = 3,
        actor: Annotated[
            str | None, typer.Option("--actor", help="who does this (default: you)")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="the report as JSON")] = False,
    ) -> None:
        """Search the parameters of a version; rank, re-run the best, report, register."""
        with reported_failures(err):
            platform = ctx.obj.platform
            service: OptimisationService = platform.research.optimisation
            search_space, weights = None, None
            if space is not None:
                loaded = service.load_space(ref, platform.documents.read_file(space))
                search_space, weights = loaded.space, loaded.weights
            chosen = objective_of(objective, weights)
            start_ns = None if start is None else parse_utc(start, "--start")
            end_ns = None if end is None else parse_utc(end, "--end")
            if start_ns is not None and end_ns is not None and end_ns < start_ns:
                raise InvalidInputError("--end is before --start", code="invalid_range")
            with nullcontext(SilentProgress()) if as_json else RichProgress(err) as progress:
                report = service.optimize(
                    ref,
                    space=search_space,
                    trials=trials,
                    objective=chosen,
                    sampler=sampler,
                    seed=seed,
                    workers=workers,
                    ray_address=ray,
                    study_name=study,
                    start_ns=start_ns,
                    end_ns=end_ns,
                    register=register,
                    actor=actor or getpass.getuser(),
                    progress=progress,
                    screen=screen,
                    top_k=top,
                )
            if as_json:
                out.print(report.model_dump_json(indent=2), highlight=False, soft_wrap=True)
                return
            _print_report(out, report, service.report_dir(report.study_name))


def _print_report(out: Console, report: StudyReport, directory: Path) -> None:
    complete = sum(1 for t in report.trials if t.value is not None)
    resumed = " (resumed)" if report.resumed else ""
    out.print(
        f"[bold]study {escape(report.study_name)}[/]{resumed}: {escape(report.ref)}, "
        f"{report.objective.describe()} by {report.sampler.value} (seed {report.seed}); "
        f"{len(report.trials)} trials, {complete} with a value",
        highlight=False,
    )
    if report.screened is not None:
        screened = report.screened
        out.print(
            f"screen: {screened.candidates} grid points ranked in {screened.wall_seconds:.2f} s; "
            f"the best {screened.confirmed} confirmed event-driven"
        )
    table = Table("rank", "trial", "value", "parameters", "trades", "state")
    for rank, trial in enumerate(report.ranked()[:_TOP_ROWS], start=1):
        params = ", ".join(f"{k}={v}" for k, v in trial.params.items())
        trades = "" if trial.metrics is None else str(trial.metrics.trade_count)
        value = "" if trial.value is None else f"{trial.value:.4f}"
        state = (
            trial.state.value if trial.reason is None else f"{trial.state.value}: {trial.reason}"
        )
        table.add_row(str(rank), str(trial.number), value, escape(params), trades, escape(state))
    out.print(table)
    if report.importance:
        ranked = sorted(report.importance.items(), key=lambda kv: -kv[1])
        out.print("importance: " + ", ".join(f"{k} {v:.2f}" for k, v in ranked))
    elif report.importance_note:
        out.print(f"importance: {escape(report.importance_note)}")
    for rerun in report.reruns:
        verdict = "[green]reproduced[/]" if rerun.matched else "[bold red]DIFFERS[/]"
        out.print(f"re-run of trial {rerun.number}: run {rerun.run_id} {verdict}")
    if report.registered_ref is not None:
        out.print(f"registered [bold]{escape(report.registered_ref)}[/] from the best trial")
    out.print(f"report: {directory / 'report.html'} (JSON beside it)", highlight=False)
