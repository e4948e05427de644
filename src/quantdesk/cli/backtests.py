"""``quantdesk backtest`` and ``quantdesk runs``: run backtests, look at what they produced."""

import getpass
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from quantdesk.cli import backtest_render
from quantdesk.cli.backtest_refs import strategy_refs
from quantdesk.cli.errors import reported_failures
from quantdesk.cli.execution_quality_render import execution_quality_table
from quantdesk.cli.progress import RichProgress
from quantdesk.cli.request_errors import (
    parameter_file_error,
    parameter_flag_error,
    request_from_data,
    request_from_flags,
)
from quantdesk.cli.timestamps import parse_utc
from quantdesk.domain.backtest import (
    AccountType,
    BacktestRequest,
    BacktestResult,
    Liquidity,
    OmsType,
    venue_names_of,
)
from quantdesk.domain.backtest_checks import StrategyParameterError
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.risk import BreachAction
from quantdesk.domain.runs import RunFilter
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.families import StrategyFamily
from quantdesk.services.platform import Platform
from quantdesk.services.ports import SilentProgress
from quantdesk.services.ports.documents import DocumentReader
from quantdesk.services.shorthand import (
    SHORTHANDS,
    register_definitions,
)

RUNS_LISTED = 1000  # the newest; the service pages through all of them


def add_backtest_commands(app: typer.Typer, out: Console, err: Console) -> None:
    backtest = typer.Typer(no_args_is_help=True, help="Run backtests on NautilusTrader.")
    runs = typer.Typer(no_args_is_help=True, help="Stored backtest runs and their reports.")
    app.add_typer(backtest, name="backtest")
    app.add_typer(runs, name="runs")

    @backtest.command("run")
    def backtest_run(
        ctx: typer.Context,
        strategy: Annotated[
            list[str] | None,
            typer.Option(
                help="registered strategy ID[@VERSION|@TAG] (repeatable: one portfolio); or a "
                f"shorthand ({', '.join(SHORTHANDS)}) with --instrument and --param"
            ),
        ] = None,
        param: Annotated[
            list[str] | None,
            typer.Option(help="shorthand parameter NAME=VALUE (repeatable)"),
        ] = None,
        instrument: Annotated[
            list[str] | None,
            typer.Option(help="shorthand: instrument id (repeatable: one strategy each)"),
        ] = None,
        bar_spec: Annotated[
            str | None, typer.Option(help="shorthand: bars to run on (default 1-MINUTE-LAST)")
        ] = None,
        start: Annotated[
            str | None, typer.Option(help="first bar close, ISO-8601 UTC (default: data start)")
        ] = None,
        end: Annotated[
            str | None, typer.Option(help="last bar close, ISO-8601 UTC (default: data end)")
        ] = None,
        balance: Annotated[str, typer.Option(help="starting balance per venue")] = "1000000",
        currency: Annotated[str, typer.Option(help="account base currency")] = "USD",
        oms: Annotated[OmsType, typer.Option(help="order management")] = OmsType.NETTING,
        account: Annotated[AccountType, typer.Option(help="account type")] = AccountType.MARGIN,
        leverage: Annotated[str, typer.Option(help="default leverage")] = "1",
        maker_fee: Annotated[str | None, typer.Option(help="venue maker fee rate")] = None,
        taker_fee: Annotated[str | None, typer.Option(help="venue taker fee rate")] = None,
        liquidity: Annotated[
            Liquidity,
            typer.Option(
                help="volume: a bar fills max(volume/4, 1) at its price, the rest a tick "
                "worse; unlimited: the whole order at the bar's price"
            ),
        ] = Liquidity.VOLUME,
        bar_spread: Annotated[
            str | None,
            typer.Option(
                help="BID/ASK bars only: the other side is the bars shifted by this spread"
            ),
        ] = None,
        fill_at: Annotated[
            str,
            typer.Option(
                help="when a market order decided on a bar fills: close (that bar's close) "
                "or next_open (the next bar's open)"
            ),
        ] = "close",
        commission_per_unit: Annotated[
            str | None,
            typer.Option(help="commission per unit of quantity on each fill, beside the rates"),
        ] = None,
        seed: Annotated[int, typer.Option(help="seed of the fill model's draws")] = 0,
        label: Annotated[str, typer.Option(help="a name for the run")] = "",
        log_level: Annotated[str, typer.Option(help="engine log level (OFF silences)")] = "ERROR",
        max_position: Annotated[str | None, typer.Option(help="risk: largest |position|")] = None,
        max_order_quantity: Annotated[str | None, typer.Option(help="risk: largest order")] = None,
        max_order_notional: Annotated[
            str | None, typer.Option(help="risk: largest order value")
        ] = None,
        max_gross_exposure: Annotated[
            str | None, typer.Option(help="risk: sum of |position x price|")
        ] = None,
        max_leverage: Annotated[str | None, typer.Option(help="risk: gross / equity")] = None,
        max_drawdown_pct: Annotated[
            str | None, typer.Option(help="risk: e.g. 0.1 = 10% from the high-water mark")
        ] = None,
        max_daily_loss: Annotated[str | None, typer.Option(help="risk: loss in a day")] = None,
        on_breach: Annotated[
            BreachAction, typer.Option(help="what a drawdown/daily-loss breach does")
        ] = BreachAction.REDUCING,
        signals: Annotated[
            str,
            typer.Option(
                help="AI signals to replay with the bars: none, all, or types "
                "(SENTIMENT,REGIME_PREDICTION,...)"
            ),
        ] = "none",
        roll: Annotated[
            list[str] | None,
            typer.Option(
                help="roll a futures chain: ROOT.VENUE:days=N (N days before the active "
                "contract's expiry) or ROOT.VENUE:volume (repeatable; see docs/futures.md)"
            ),
        ] = None,
        request_file: Annotated[
            Path | None,
            typer.Option("--request", help="a whole BacktestRequest as JSON or YAML instead"),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
    ) -> None:
        """Run a backtest over the catalog and store it under QUANTDESK_HOME/runs."""
        with reported_failures(err):
            where: Callable[[Sequence[str | int]], str] | None = None
            shorthand: dict[str, str] = {}  # ref -> the shorthand it is registered from
            pending: list[StrategyDefinition] = []  # registered once the run has succeeded
            if request_file is not None:
                request, where = _load_request(request_file, ctx.obj.platform.documents)
            else:
                if not strategy:
                    raise InvalidInputError(
                        "give at least one --strategy (or --request FILE)",
                        hint="e.g. --strategy trend-syn01 (see `quantdesk strategy list`), or "
                        "--strategy ema_cross --param fast=10 --instrument SYN01.SIM",
                    )
                platform: Platform = ctx.obj.platform
                refs, options, pending = strategy_refs(
                    platform, strategy, instrument or [], bar_spec, param or []
                )
                shorthand = {  # ref -> its shorthand's name (ids are NAME-SYMBOL)
                    f"{d.strategy_id}@{d.version}": next(
                        n for n in SHORTHANDS if d.strategy_id.startswith(f"{n}-")
                    )
                    for d in pending
                }
                by_ref = {f"{d.strategy_id}@{d.version}": d for d in pending}
                instruments = [
                    i
                    for ref in refs
                    for i in (
                        by_ref[ref] if ref in by_ref else platform.registry.resolve(ref).definition
                    ).instruments
                ]
                request = request_from_flags(
                    dict(
                        strategies=refs,
                        **options,
                        start_ns=None if start is None else parse_utc(start, "--start"),
                        end_ns=None if end is None else parse_utc(end, "--end"),
                        venues=[
                            {  # validated with the request: a bad value is a named error
                                "name": venue,
                                "oms_type": oms,
                                "account_type": account,
                                "base_currency": currency,
                                "starting_balance": balance,
                                "default_leverage": leverage,
                                "maker_fee": maker_fee,
                                "taker_fee": taker_fee,
                                "liquidity": liquidity,
                                "bar_spread": bar_spread,
                                "fill_at": fill_at,
                                "commission_per_unit": commission_per_unit,
                            }
                            for venue in venue_names_of(instruments)
                        ],
                        seed=seed,
                        label=label,
                        signals=signals,
                        rolls=[roll_flag(r) for r in roll or []],
                        risk={
                            "limits": {
                                key: value
                                for key, value in {
                                    "max_position": max_position,
                                    "max_order_quantity": max_order_quantity,
                                    "max_order_notional": max_order_notional,
                                    "max_gross_exposure": max_gross_exposure,
                                    "max_leverage": max_leverage,
                                    "max_drawdown_pct": max_drawdown_pct,
                                    "max_daily_loss": max_daily_loss,
                                }.items()
                                if value is not None
                            },
                            "on_breach": on_breach,
                        },
                        engine={"log_level": log_level},
                    )
                )
            # --json is for machines: no progress display, even on stderr
            with nullcontext(SilentProgress()) if as_json else RichProgress(err) as progress:
                try:
                    result = ctx.obj.platform.backtests.run(
                        request, progress, pending, submitted_by=getpass.getuser()
                    )
                except StrategyParameterError as error:
                    if where is not None:
                        raise parameter_file_error(error, where) from None
                    refs = request.strategies
                    name = shorthand.get(refs[error.index]) if error.index < len(refs) else None
                    if name is None:  # a registered definition's parameter: no flag set it
                        raise
                    raise parameter_flag_error(error, SHORTHANDS[name].parameter_name) from None
            for definition in pending:  # the run succeeded: its shorthand versions are kept
                (stored,) = register_definitions(
                    ctx.obj.platform.registry, [definition], "shorthand", getpass.getuser()
                )
                if stored != f"{definition.strategy_id}@{definition.version}":
                    err.print(f"[bold yellow]warning:[/] registered as {stored}", highlight=False)
            if as_json:
                out.print_json(result.model_dump_json())
                return
            for ref in result.request.strategies:  # which registered version a shorthand ran
                if ref in shorthand:
                    err.print(f"shorthand: ran {ref} (registered)", highlight=False)
            out.print(backtest_render.result_table(result))
            if result.strategies:
                out.print(backtest_render.strategies_table(result))
            out.print(backtest_render.facts_table(result))
            _print_refusals(out, err, result)
            if result.settlements:
                out.print(backtest_render.settlements_table(result))
            if result.rolls:
                out.print(backtest_render.rolls_table(result))
            if result.risk_counts:
                out.print(backtest_render.risk_table(result))
            if result.provenance is not None:
                out.print(backtest_render.signals_table(result))
            if result.execution_quality:
                out.print(execution_quality_table(result.execution_quality))
            out.print(
                f"report: {ctx.obj.platform.backtests.report_path(result.run_id)}",
                soft_wrap=True,
                highlight=False,
            )

    @backtest.command("strategies")
    def backtest_strategies() -> None:
        """What --strategy takes: registered references, the families, the shorthands."""
        out.print(
            "--strategy ID[@VERSION|@TAG]: a registered strategy (`quantdesk strategy list`); "
            "its definition says what it trades",
            highlight=False,
        )
        out.print(
            "families (`quantdesk strategy schema FAMILY`): "
            + ", ".join(f.value for f in StrategyFamily),
            highlight=False,
        )
        out.print("shorthands (with --instrument, --param NAME=VALUE):", highlight=False)
        for name, entry in SHORTHANDS.items():
            out.print(f"  [bold]{name}[/]: {entry.description}")
        out.print("  --param flat_at_stop=true: every strategy flat at the end of the run")

    @runs.command("list")
    def runs_list(ctx: typer.Context) -> None:
        """Every run, newest first, with its state (failed and cancelled runs say why)."""
        with reported_failures(err):
            backtests = ctx.obj.platform.backtests
            records, _ = backtests.records(RunFilter(), limit=RUNS_LISTED, offset=0)
            if not records:
                out.print("No runs yet (try: quantdesk backtest run --help).")
                return
            results = {result.run_id: result for result in backtests.results()}
            out.print(backtest_render.runs_table(records, results))

    @runs.command("show")
    def runs_show(
        ctx: typer.Context,
        run_id: Annotated[str, typer.Argument(help="run id or a unique prefix")],
        as_json: Annotated[bool, typer.Option("--json", help="the whole result as JSON")] = False,
    ) -> None:
        """A run's metrics, attribution and engine facts."""
        with reported_failures(err):
            result = ctx.obj.platform.backtests.result(run_id)
            if as_json:
                out.print_json(result.model_dump_json())
                return
            out.print(backtest_render.result_table(result))
            if result.strategies:
                out.print(backtest_render.strategies_table(result))
            out.print(backtest_render.facts_table(result))
            _print_refusals(out, err, result)
            if result.settlements:
                out.print(backtest_render.settlements_table(result))
            if result.rolls:
                out.print(backtest_render.rolls_table(result))
            if result.provenance is not None:
                out.print(backtest_render.signals_table(result))
            if result.execution_quality:
                out.print(execution_quality_table(result.execution_quality))

    @runs.command("report")
    def runs_report(
        ctx: typer.Context,
        run_id: Annotated[str, typer.Argument(help="run id or a unique prefix")],
    ) -> None:
        """The path of a run's self-contained HTML report."""
        with reported_failures(err):
            service = ctx.obj.platform.backtests
            out.print(service.report_path(service.result(run_id).run_id), soft_wrap=True)

    @runs.command("compare")
    def runs_compare(
        ctx: typer.Context,
        run_a: Annotated[str, typer.Argument(help="first run")],
        run_b: Annotated[str, typer.Argument(help="second run")],
    ) -> None:
        """Two runs side by side; tells whether their fills are identical."""
        with reported_failures(err):
            service = ctx.obj.platform.backtests
            a, b = service.result(run_a), service.result(run_b)
            same = service.same_fills(a.run_id, b.run_id)
            out.print(backtest_render.compare_table(a, b, same))


def _print_refusals(out: Console, err: Console, result: BacktestResult) -> None:
    if not result.engine_rejections:
        return
    out.print(backtest_render.refusals_table(result))
    for line in result.warnings[:1]:
        err.print(f"[bold yellow]warning:[/] {escape(line)}", highlight=False)


def _load_request(
    path: Path, reader: DocumentReader
) -> tuple[BacktestRequest, Callable[[Sequence[str | int]], str]]:
    """A request file, read within the document limits; a refused field names its line.

    Also returns where a field is (file and line), for what the runner refuses later.
    """
    document = reader.read_file(path)
    if not isinstance(document.data, dict):
        raise InvalidInputError(
            f"{path} line {document.line_of(())}: expected a mapping of request fields"
        )

    def where(location: Sequence[str | int]) -> str:
        return f"{path} line {document.line_of(location)}"

    return request_from_data(document.data, where), where


def roll_flag(text: str) -> dict[str, str]:
    """``ES.XCME:days=5`` or ``ES.XCME:volume`` as a roll rule's fields."""
    chain, _, rule = text.partition(":")
    if rule == "volume":
        return {"chain": chain, "method": "volume"}
    name, _, days = rule.partition("=")
    if name != "days" or not days:
        raise InvalidInputError(
            f"--roll {text!r} is not CHAIN:days=N or CHAIN:volume",
            hint="e.g. --roll ES.XCME:days=5 (roll five days before the front's expiry)",
        )
    return {"chain": chain, "method": "days_before_expiry", "days": days}
