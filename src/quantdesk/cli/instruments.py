"""``quantdesk instruments``: define instruments from YAML or flags, list and show them."""

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from quantdesk.cli import render
from quantdesk.cli.errors import reported_failures
from quantdesk.cli.instrument_files import load_instrument_specs
from quantdesk.domain.contract_terms import ExerciseStyle, OptionKind, UnderlyingClass
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec


def add_instrument_commands(instruments: typer.Typer, out: Console, err: Console) -> None:
    """``instruments add``, ``list`` and ``show``."""

    def failures() -> AbstractContextManager[None]:
        return reported_failures(err)

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
