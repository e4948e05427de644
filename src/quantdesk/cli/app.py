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
from quantdesk.cli.instrument_files import load_instrument_specs
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
from quantdesk.domain.contract_terms import ExerciseStyle, OptionKind, UnderlyingClass
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.market_data import (
    BarIngestOptions,
    BarSpec,
    TimestampAt,
    TimestampFormat,
)
from quantdesk.services.platform import Platform
from quantdesk.services.synthetic import DEFAULT_START_NS, SyntheticMarketConfig

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

    # instruments ---------------------------------------------------------------------------

    @instruments.command("add")
    def instruments_add(
        ctx: typer.Context,
        file: Annotated[
            Path | None, typer.Argument(help="YAML file with one or more instruments")
        ] = None,
        instrument_id: Annotated[
            str | None, typer.Option("--id", help="SYMBOL.VENUE, e.g. AAPL.XNAS")
        ] = None,
        asset_class: Annotated[AssetClass | None, typer.Option(help="kind of instrument")] = None,
        currency: Annotated[str | None, typer.Option(help="quote currency, e.g. USD")] = None,
        base_currency: Annotated[str | None, typer.Option(help="FX/crypto base currency")] = None,
        settlement_currency: Annotated[
            str | None, typer.Option(help="crypto perpetual settlement currency")
        ] = None,
        tick_size: Annotated[str | None, typer.Option(help="price increment, e.g. 0.01")] = None,
        size_increment: Annotated[str, typer.Option(help="size increment")] = "1",
        lot_size: Annotated[str | None, typer.Option(help="board lot")] = None,
        is_inverse: Annotated[bool, typer.Option(help="inverse perpetual or future")] = False,
        maker_fee: Annotated[str, typer.Option(help="maker fee rate")] = "0",
        taker_fee: Annotated[str, typer.Option(help="taker fee rate")] = "0",
        multiplier: Annotated[
            str | None, typer.Option(help="units per contract (futures, options: required)")
        ] = None,
        underlying: Annotated[
            str | None,
            typer.Option(help="future: its root (e.g. ES); option: the underlying's id"),
        ] = None,
        underlying_class: Annotated[
            UnderlyingClass | None, typer.Option(help="future or option: what it is on")
        ] = None,
        exchange: Annotated[str | None, typer.Option(help="listing exchange MIC")] = None,
        activation: Annotated[
            str | None, typer.Option(help="first trading instant, e.g. 2023-03-13T21:00:00Z")
        ] = None,
        expiration: Annotated[
            str | None, typer.Option(help="expiry instant, e.g. 2024-03-15T13:30:00Z")
        ] = None,
        option_kind: Annotated[OptionKind | None, typer.Option(help="option: call or put")] = None,
        strike: Annotated[str | None, typer.Option(help="option strike price")] = None,
        exercise_style: Annotated[
            ExerciseStyle | None, typer.Option(help="option: european (default) or american")
        ] = None,
        margin_init: Annotated[
            str | None, typer.Option(help="initial margin, share of notional")
        ] = None,
        margin_maint: Annotated[
            str | None, typer.Option(help="maintenance margin, share of notional")
        ] = None,
        replace: Annotated[
            bool, typer.Option(help="redefine an instrument that has no data yet")
        ] = False,
    ) -> None:
        """Define instruments from a YAML file or from flags."""
        with failures():
            if file is not None and instrument_id is not None:
                raise InvalidInputError("give either a YAML file or --id and flags, not both")
            if file is not None:
                specs = load_instrument_specs(file, ctx.obj.platform.documents)
            else:
                specs = [
                    _spec_from_flags(
                        instrument_id=instrument_id,
                        asset_class=asset_class,
                        currency=currency,
                        base_currency=base_currency,
                        settlement_currency=settlement_currency,
                        tick_size=tick_size,
                        size_increment=size_increment,
                        lot_size=lot_size,
                        is_inverse=is_inverse,
                        maker_fee=maker_fee,
                        taker_fee=taker_fee,
                        multiplier=multiplier,
                        underlying=underlying,
                        underlying_class=underlying_class,
                        exchange=exchange,
                        activation_ns=activation,
                        expiration_ns=expiration,
                        option_kind=option_kind,
                        strike=strike,
                        exercise_style=exercise_style,
                        margin_init=margin_init,
                        margin_maint=margin_maint,
                    )
                ]
            service = ctx.obj.platform.instruments
            for spec in specs:
                changed = service.add(spec, replace=replace)
                state = "added" if changed else "unchanged"
                out.print(f"{spec.instrument_id}: {state}")

    @instruments.command("list")
    def instruments_list(ctx: typer.Context) -> None:
        """List the instruments the catalog defines."""
        with failures():
            out.print(render.instruments_table(ctx.obj.platform.instruments.list()))

    @instruments.command("show")
    def instruments_show(
        ctx: typer.Context, instrument_id: Annotated[str, typer.Argument(help="SYMBOL.VENUE")]
    ) -> None:
        """Show one instrument's full definition."""
        with failures():
            out.print(render.instrument_table(ctx.obj.platform.instruments.get(instrument_id)))

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
    ) -> None:
        """Write a deterministic regime-switching synthetic market into the catalog.

        1-MINUTE-LAST bars always; each --bar-spec adds coarser bars made from them (ts = bar
        close, only complete bars), so strategies of different speeds share one market.
        """
        with failures():
            config = SyntheticMarketConfig(
                instruments=instruments_count,
                days=days,
                seed=seed,
                start_ns=DEFAULT_START_NS if start is None else parse_utc(start, "--start"),
                bar_specs=tuple(_bar_spec(text) for text in bar_specs or ()),
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


def _options(**values: object) -> BarIngestOptions:
    try:
        return BarIngestOptions.model_validate(values)
    except ValidationError as error:
        raise InvalidInputError(str(error.errors()[0]["msg"])) from error


def _spec_from_flags(**flags: object) -> InstrumentSpec:
    missing = [
        f"--{name.replace('_', '-')}"
        for name in ("instrument_id", "asset_class", "currency", "tick_size")
        if flags[name] is None
    ]
    if missing:
        raise InvalidInputError(
            f"missing {', '.join(m if m != '--instrument-id' else '--id' for m in missing)}",
            hint="give a YAML file or --id, --asset-class, --currency and --tick-size",
        )
    values = {k: v for k, v in flags.items() if v is not None}  # the model parses the text
    try:
        return InstrumentSpec.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        flag = _FLAGS.get(field, f"--{field.replace('_', '-')}")
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidInputError(f"{flag}: {message}" if field else message) from error


_FLAGS = {"instrument_id": "--id", "activation_ns": "--activation", "expiration_ns": "--expiration"}
