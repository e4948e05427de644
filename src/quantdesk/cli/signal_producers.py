"""``quantdesk signals produce``: run a built-in producer and write its signals as JSON lines.

The file it writes is what ``quantdesk signals ingest FILE`` reads, so producing and routing
stay two steps a user can inspect in between.
"""

import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from quantdesk.cli.errors import reported_failures
from quantdesk.cli.timestamps import parse_utc
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.signals import AISignal, RegimeValue
from quantdesk.domain.time import ns_to_text
from quantdesk.services.signal_producers import ProduceRequest, ProducerKind, VolatilityModel
from quantdesk.services.signal_producers.base import MAX_NS


def add_produce_command(signals_app: typer.Typer, out: Console, err: Console) -> None:
    """Adds ``produce`` to the ``signals`` group (created by ``cli/signals.py``)."""

    @signals_app.command("produce")
    def produce(
        ctx: typer.Context,
        kind: Annotated[ProducerKind, typer.Argument(help="which producer", show_default=False)],
        instrument: Annotated[str, typer.Option(help="instrument id the signals are about")],
        other: Annotated[
            str | None, typer.Option(help="second instrument (correlation)", show_default=False)
        ] = None,
        start: Annotated[
            str | None, typer.Option(help="ISO-8601 UTC, default: first bar", show_default=False)
        ] = None,
        end: Annotated[
            str | None, typer.Option(help="ISO-8601 UTC, default: last bar", show_default=False)
        ] = None,
        bar_spec: Annotated[str, typer.Option(help="bars to read")] = "1-MINUTE-LAST",
        every: Annotated[
            int | None,
            typer.Option(min=1, help="bars between signals (default 60; sentiment 1)"),
        ] = None,
        model: Annotated[
            VolatilityModel | None,
            typer.Option(help="volatility model (default ewma)", show_default=False),
        ] = None,
        headlines: Annotated[
            Path | None,
            typer.Option(help="CSV/JSON lines of timestamp,instrument,text (sentiment)"),
        ] = None,
        out_file: Annotated[
            Path | None,
            typer.Option(
                "--out",
                help="JSON lines file to write ('-' for stdout); "
                "default QUANTDESK_HOME/signals/produced/KIND-INSTRUMENT.jsonl",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Compute signals from the catalog with a built-in model; write them as JSON lines.

        Then feed them to the router: quantdesk signals ingest FILE.
        """
        with reported_failures(err):
            request = ProduceRequest(
                instrument_id=instrument,
                start_ns=0 if start is None else parse_utc(start, "--start"),
                end_ns=MAX_NS if end is None else parse_utc(end, "--end"),
                bar_spec=bar_spec,
                every=every,
                other_instrument_id=other,
                headlines=headlines,
            )
            if request.start_ns > request.end_ns:
                raise InvalidInputError("--start is after --end")
            platform = ctx.obj.platform
            signals = platform.producers.produce(kind, request, model)
            text = "".join(s.canonical_json() + "\n" for s in signals)
            if out_file is not None and str(out_file) == "-":
                sys.stdout.write(text)
                return
            target = out_file or _default_path(platform.home, kind, instrument, other)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            out.print(_summary(signals, kind.value, instrument))
            out.print(f"written: {target}", soft_wrap=True, highlight=False)
            if signals:
                out.print(f"next: quantdesk signals ingest {target}", soft_wrap=True)


def _default_path(home: Path, kind: ProducerKind, instrument: str, other: str | None) -> Path:
    name = f"{kind.value}-{instrument}" + (f"-{other}" if other else "")
    return home / "signals" / "produced" / f"{name}.jsonl"


def _summary(signals: list[AISignal], kind: str, instrument: str) -> Table:
    table = Table(title=f"{kind} signals for {instrument}")
    for column in ("signals", "source model", "first ts_event", "last ts_event", "confidence"):
        table.add_column(column)
    table.add_column("labels" if kind == ProducerKind.REGIME else "value range")
    if not signals:
        table.add_row("0", "-", "-", "-", "-", "-")
        return table
    confidences = [s.confidence for s in signals]
    table.add_row(
        str(len(signals)),
        signals[0].source_model,
        ns_to_text(signals[0].ts_event),
        ns_to_text(signals[-1].ts_event),
        f"{min(confidences):.3f}..{max(confidences):.3f} "
        f"(mean {sum(confidences) / len(confidences):.3f})",
        _values(signals),
    )
    return table


def _values(signals: list[AISignal]) -> str:
    labels = Counter(s.value.label for s in signals if isinstance(s.value, RegimeValue))
    if labels:
        return ", ".join(f"{label} {count}" for label, count in sorted(labels.items()))
    numbers = [_number(s) for s in signals]
    return f"{min(numbers):.4g}..{max(numbers):.4g}"


def _number(signal: AISignal) -> float:
    value = signal.value.model_dump()
    for key in ("annualized_volatility", "change", "score"):
        if key in value:
            return float(value[key])
    return 0.0
