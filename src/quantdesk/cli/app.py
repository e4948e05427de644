"""The ``quantdesk`` command: instruments and market data here; backtests, runs, risk beside."""

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

import quantdesk
from quantdesk.cli import render
from quantdesk.cli.backtests import add_backtest_commands
from quantdesk.cli.context import CliContext
from quantdesk.cli.errors import (
    EXIT_INVALID,
    EXIT_NOTHING_VALID,
    EXIT_UNEXPECTED,
    GuardedGroup,
    reported_failures,
)
from quantdesk.cli.instruments import add_instrument_commands
from quantdesk.cli.migrations import add_migration_commands
from quantdesk.cli.optimize import add_optimize_command
from quantdesk.cli.progress import RichProgress
from quantdesk.cli.risk import add_risk_commands
from quantdesk.cli.serve import Serve, add_serve_command
from quantdesk.cli.signals import add_signal_commands
from quantdesk.cli.strategies import add_strategy_commands
from quantdesk.cli.ticks import add_tick_commands
from quantdesk.cli.timestamps import parse_utc
from quantdesk.cli.users import add_user_commands
from quantdesk.cli.validation import add_validation_commands
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.market_data import (
    BarIngestOptions,
    BarSpec,
    TimestampAt,
    TimestampFormat,
)
from quantdesk.services.platform import Platform
from quantdesk.services.synthetic import DEFAULT_START_NS, SyntheticMarketConfig
from quantdesk.services.synthetic_options import OptionChainConfig

PlatformFactory = Callable[[Path | None], Platform]
__all__ = ["EXIT_INVALID", "EXIT_NOTHING_VALID", "EXIT_UNEXPECTED", "create_cli"]


def create_cli(factory: PlatformFactory, serve: Serve | None = None) -> typer.Typer:
    """The CLI over a platform built lazily by ``factory`` (so ``--help`` touches nothing)."""
    out = Console(width=None if sys.stdout.isatty() else 160)
    err = Console(stderr=True, soft_wrap=True)
    app = typer.Typer(
        cls=GuardedGroup,  # the one guard: nothing unforeseen leaves a command as a traceback
        no_args_is_help=True,
        help="quantdesk: strategy registry, signals, risk and a validated market-data "
        "catalog on NautilusTrader.",
        pretty_exceptions_enable=False,
    )
    instruments = typer.Typer(no_args_is_help=True, help="Define and inspect instruments.")
    data = typer.Typer(no_args_is_help=True, help="The market-data catalog.")
    ingest = typer.Typer(no_args_is_help=True, help="Bring market data into the catalog.")
    app.add_typer(instruments, name="instruments")
    add_instrument_commands(instruments, out, err)
    app.add_typer(data, name="data")
    data.add_typer(ingest, name="ingest")

    def version_callback(value: bool) -> None:
        if value:
            out.print(f"quantdesk {quantdesk.__version__}")
            raise typer.Exit()

    @app.callback()
    def root(
        ctx: typer.Context,
        home: Annotated[
            Path | None,
            typer.Option(
                help="QUANTDESK_HOME: where the catalog and runs live", show_default=False
            ),
        ] = None,
        version: Annotated[
            bool, typer.Option("--version", callback=version_callback, is_eager=True)
        ] = False,
    ) -> None:
        ctx.obj = CliContext(factory=factory, home=home)

    def failures() -> AbstractContextManager[None]:
        return reported_failures(err)

    # data ------------------------------------------------------------------------------------

    @ingest.command("bars")
    def ingest_bars(
        ctx: typer.Context,
        file: Annotated[Path, typer.Argument(help="CSV (header row) or Parquet file of bars")],
        instrument: Annotated[str, typer.Option(help="instrument id, defined beforehand")],
        bar_spec: Annotated[str, typer.Option(help="STEP-AGGREGATION-PRICE_TYPE")] = (
            "1-MINUTE-LAST"
        ),
        timestamp_col: Annotated[str, typer.Option(help="timestamp column")] = "timestamp",
        open_col: Annotated[str, typer.Option(help="open column")] = "open",
        high_col: Annotated[str, typer.Option(help="high column")] = "high",
        low_col: Annotated[str, typer.Option(help="low column")] = "low",
        close_col: Annotated[str, typer.Option(help="close column")] = "close",
        volume_col: Annotated[str, typer.Option(help="volume column")] = "volume",
        ts_format: Annotated[
            TimestampFormat, typer.Option(help="ISO-8601 or epoch unit; auto guesses")
        ] = TimestampFormat.AUTO,
        assume_utc: Annotated[
            bool, typer.Option(help="timestamps without a zone are UTC (else rejected)")
        ] = False,
        timestamp_at: Annotated[
            TimestampAt, typer.Option(help="the file stamps bar open or close (engine: close)")
        ] = TimestampAt.CLOSE,
        round_values: Annotated[
            bool,
            typer.Option("--round", help="round prices/volume to the instrument's increments"),
        ] = False,
        default_volume: Annotated[
            float | None, typer.Option(help="volume for files without a volume column")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    ) -> None:
        """Validate a bar file and add its new rows to the catalog, with lineage.

        Rejected rows go to a rejects file with row, field, value and reason. Exit code 3
        when no row is valid, 2 when the input cannot be read or the request is invalid.
        """
        with failures():
            mapping = {
                "timestamp": timestamp_col,
                "open": open_col,
                "high": high_col,
                "low": low_col,
                "close": close_col,
                "volume": volume_col,
            }
            options = _options(
                columns={k: v for k, v in mapping.items() if k != v},
                timestamp_format=ts_format,
                assume_utc=assume_utc,
                timestamp_at=timestamp_at,
                round_to_instrument=round_values,
                default_volume=default_volume,
            )
            with RichProgress(err) as progress:
                summary = ctx.obj.platform.ingest.ingest_bars(
                    file, instrument, bar_spec, options, progress
                )
            if as_json:
                out.print_json(summary.model_dump_json())
                return
            out.print(render.ingest_table([summary]))
            if summary.rows_rejected:
                out.print(render.rejections_table(summary.rejected_by_reason))
                out.print(f"rejected rows: {summary.rejects_path}", soft_wrap=True, highlight=False)
            if summary.rows_already_present and not summary.rows_written:
                out.print("Nothing new: every valid row is already in the catalog.")

    @data.command("list")
    def data_list(
        ctx: typer.Context,
        instrument: Annotated[str | None, typer.Option(help="only this instrument")] = None,
    ) -> None:
        """What the catalog holds: series, first/last timestamp, row count."""
        with failures():
            entries = ctx.obj.platform.catalog.entries(instrument)
            if not entries:
                out.print("The catalog holds no market data yet (try: quantdesk data synth).")
                return
            out.print(render.catalog_table(entries))

    @data.command("lineage")
    def data_lineage(
        ctx: typer.Context,
        instrument: Annotated[str | None, typer.Option(help="only this instrument")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="JSON lines, machine-readable")] = (
            False
        ),
    ) -> None:
        """Where every piece of the catalog came from (source, checksum, files, versions)."""
        with failures():
            records = ctx.obj.platform.catalog.lineage(instrument)
            if as_json:
                for record in records:
                    sys.stdout.write(record.model_dump_json() + "\n")
                return
            out.print(render.lineage_table(records))

    @data.command("synth")
    def data_synth(
        ctx: typer.Context,
        instruments_count: Annotated[
            int, typer.Option("--instruments", min=1, max=99, help="how many instruments")
        ] = 3,
        days: Annotated[int, typer.Option(min=1, help="days of 1-minute bars (24h a day)")] = 10,
        seed: Annotated[int, typer.Option(help="random seed: same seed, same bytes")] = 7,
        start: Annotated[
            str | None, typer.Option(help="ISO-8601 UTC start, default 2024-01-01T00:00Z")
        ] = None,
        bar_specs: Annotated[
            list[str] | None,
            typer.Option(
                "--bar-spec",
                help="also write these bars, aggregated from the 1-minute ones "
                "(repeatable), e.g. 5-MINUTE-LAST",
                show_default=False,
            ),
        ] = None,
        options_on: Annotated[
            list[str] | None,
            typer.Option(
                "--options-on",
                help="list an options chain on this instrument (repeatable), e.g. SYN01.SIM",
                show_default=False,
            ),
        ] = None,
        option_expiries: Annotated[
            str, typer.Option(help="days after the start the options expire, e.g. 3,7")
        ] = "7,14",
        option_strikes: Annotated[
            int, typer.Option(min=1, max=21, help="strikes per expiry, 5% apart")
        ] = 5,
        option_vol: Annotated[float, typer.Option(help="the chain's flat annual volatility")] = 0.4,
    ) -> None:
        """Write a deterministic regime-switching synthetic market into the catalog.

        1-MINUTE-LAST bars always; each --bar-spec adds coarser bars made from them (ts = bar
        close, only complete bars), so strategies of different speeds share one market.
        --options-on lists calls and puts on an instrument, priced from its bars with
        Black-Scholes at one volatility (consistent across strikes and expiries).
        """
        with failures():
            config = SyntheticMarketConfig(
                instruments=instruments_count,
                days=days,
                seed=seed,
                start_ns=DEFAULT_START_NS if start is None else parse_utc(start, "--start"),
                bar_specs=tuple(_bar_spec(text) for text in bar_specs or ()),
                options_on=tuple(options_on or ()),
                option_chain=OptionChainConfig(
                    strikes=option_strikes,
                    expiry_days=_days(option_expiries),
                    volatility=option_vol,
                ),
            )
            with RichProgress(err) as progress:
                summaries = ctx.obj.platform.synthetic.synthesize(config, progress)
            out.print(render.ingest_table(summaries))

    add_tick_commands(ingest, out, err)
    add_migration_commands(data, out, err)
    add_backtest_commands(app, out, err)
    add_risk_commands(app, out, err)
    add_strategy_commands(app, out, err)
    add_validation_commands(app, out, err)
    add_optimize_command(app, out, err)
    add_signal_commands(app, out, err)
    if serve is not None:  # the composition root runs the server
        add_serve_command(app, out, err, serve)
    add_user_commands(app, out, err)
    return app


def _bar_spec(text: str) -> BarSpec:
    try:
        return BarSpec.parse(text)
    except ValueError as error:
        raise InvalidInputError(f"--bar-spec: {error}") from None


def _days(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise InvalidInputError(
            f"--option-expiries: {text!r} is not a comma-separated list of whole days"
        ) from None


def _options(**values: object) -> BarIngestOptions:
    try:
        return BarIngestOptions.model_validate(values)
    except ValidationError as error:
        raise InvalidInputError(str(error.errors()[0]["msg"])) from error
