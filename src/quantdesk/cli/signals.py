"""``quantdesk signals``: ingest signal files, look into the buffer, count, dead letters."""

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from quantdesk.cli.errors import reported_failures
from quantdesk.cli.signal_producers import add_produce_command
from quantdesk.cli.timestamps import parse_utc
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.signal_routing import DeadLetter, SignalIngestSummary, SignalStatsRow
from quantdesk.domain.signals import AISignal
from quantdesk.domain.time import ns_to_text
from quantdesk.services.signal_routing import SignalRouter
from quantdesk.services.signals import LIST_LIMIT_MAX


def add_signal_commands(app: typer.Typer, out: Console, err: Console) -> None:
    signals = typer.Typer(no_args_is_help=True, help="AI signals: ingest, buffer, stats, DLQ.")
    dlq = typer.Typer(no_args_is_help=True, help="Signals no consumer could take.")
    app.add_typer(signals, name="signals")
    signals.add_typer(dlq, name="dlq")
    add_produce_command(signals, out, err)

    @signals.command("ingest")
    def ingest(
        ctx: typer.Context,
        file: Annotated[Path, typer.Argument(help="JSON lines (.jsonl), CSV or Parquet")],
        as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = (
            False
        ),
    ) -> None:
        """Validate a signal file and buffer what passes (the catalog, for replay).

        Rejected records go to a rejects file with row, field, value and reason, each once:
        ingesting a file again adds no reject twice. The exit code reflects what is new: 3
        when nothing was accepted and some record is newly rejected, 2 when the file cannot
        be read, 0 otherwise (a file already ingested changes nothing and exits 0).
        """
        with reported_failures(err):
            summary = ctx.obj.platform.signals.ingest_file(file)
            if as_json:
                out.print_json(json.dumps(_summary(summary)))
                return
            if summary.accepted == 0:  # every record is known already (exit 0, like bars)
                out.print(f"nothing new in {file}: {_known_text(summary)}", highlight=False)
                return
            out.print(_ingest_table(summary))
            if summary.rejected:
                reasons = ", ".join(f"{k} x{v}" for k, v in summary.rejected_by_reason.items())
                out.print(f"rejected by reason: {reasons}", highlight=False)
                if summary.already_rejected:
                    out.print(
                        f"{summary.already_rejected:,} of them rejected by an earlier ingest "
                        "(kept once)",
                        highlight=False,
                    )
                if summary.rejects_path:
                    out.print(f"rejected records: {summary.rejects_path}", soft_wrap=True)

    @signals.command("list")
    def list_(
        ctx: typer.Context,
        signal_type: Annotated[
            str | None, typer.Option("--type", help="e.g. SENTIMENT, REGIME_PREDICTION")
        ] = None,
        instrument: Annotated[str | None, typer.Option(help="instrument id")] = None,
        start: Annotated[str | None, typer.Option(help="ISO-8601 UTC, on ts_init")] = None,
        end: Annotated[str | None, typer.Option(help="ISO-8601 UTC, on ts_init")] = None,
        limit: Annotated[
            int, typer.Option(min=1, max=LIST_LIMIT_MAX, help="at most this many")
        ] = 50,
    ) -> None:
        """Buffered signals in ts_init order."""
        with reported_failures(err):
            found = ctx.obj.platform.signals.list(
                signal_type=signal_type,
                instrument_id=instrument,
                start_ns=parse_utc(start, "--start") if start else None,
                end_ns=parse_utc(end, "--end") if end else None,
                limit=limit,
            )
            if not found:
                out.print("No signals match (try: quantdesk signals ingest FILE).")
                return
            out.print(_signals_table(found))

    @signals.command("show")
    def show(
        ctx: typer.Context, signal_id: Annotated[str, typer.Argument(help="signal id")]
    ) -> None:
        """One signal in full: value, metadata, provenance."""
        with reported_failures(err):
            signal = ctx.obj.platform.signals.show(signal_id)
            out.print_json(signal.canonical_json())

    @signals.command("stats")
    def stats(ctx: typer.Context) -> None:
        """Per type and source: accepted, rejected by reason, delivered, dead-lettered."""
        with reported_failures(err):
            rows = ctx.obj.platform.signals.stats()
            if not rows:
                out.print("No signal has been seen yet.")
                return
            out.print(_stats_table(rows))

    @dlq.command("list")
    def dlq_list(
        ctx: typer.Context,
        all_: Annotated[bool, typer.Option("--all", help="also the ones replayed")] = False,
    ) -> None:
        """Dead letters waiting for review or replay."""
        with reported_failures(err):
            letters = ctx.obj.platform.signals.dead_letters(include_replayed=all_)
            if not letters:
                out.print("The dead-letter store is empty.")
                return
            out.print(_dlq_table(letters))

    @dlq.command("replay")
    def dlq_replay(
        ctx: typer.Context,
        ids: Annotated[
            list[str] | None, typer.Argument(help="dead-letter ids or signal ids")
        ] = None,
        all_: Annotated[bool, typer.Option("--all", help="every dead letter")] = False,
    ) -> None:
        """Put dead letters back on the bus for their consumer."""
        with reported_failures(err):
            if bool(ids) == all_:
                raise InvalidInputError("give dead-letter ids or --all (not both)")
            router = ctx.obj.platform.signal_router
            replayed = asyncio.run(_replay(router, None if all_ else ids))
            out.print(f"replayed {len(replayed)} dead letter(s)")


async def _replay(router: SignalRouter, ids: list[str] | None) -> list[DeadLetter]:
    try:
        return await router.replay(ids)
    finally:
        await router.bus.close()


def _summary(summary: SignalIngestSummary) -> dict[str, object]:
    return {name: getattr(summary, name) for name in SignalIngestSummary.__slots__}


def _known_text(s: SignalIngestSummary) -> str:
    parts = []
    if s.already_buffered:
        parts.append(f"{s.already_buffered:,} signal(s) already buffered")
    if s.already_rejected:
        parts.append(f"{s.already_rejected:,} record(s) rejected by an earlier ingest")
    return ", ".join(parts) or "every record repeats an id earlier in the file"


def _ingest_table(s: SignalIngestSummary) -> Table:
    table = Table(title="Signal ingest")
    for column in ("source", "read", "accepted", "rejected", "first ts_init", "last ts_init"):
        table.add_column(column)
    table.add_row(
        s.source,
        str(s.records_read),
        str(s.accepted),
        str(s.rejected),
        ns_to_text(s.first_ts_init) if s.first_ts_init is not None else "-",
        ns_to_text(s.last_ts_init) if s.last_ts_init is not None else "-",
    )
    return table


def _value_text(signal: AISignal) -> str:
    value = signal.value.model_dump(exclude={"kind"})
    return json.dumps(value, separators=(",", ":"))[:60]


def _signals_table(found: list[AISignal]) -> Table:
    table = Table(title=f"Signals ({len(found)})")
    table.add_column("signal id", no_wrap=True, min_width=36)  # ids are what users copy
    for column in ("type", "instrument", "ts_init", "conf."):
        table.add_column(column)
    table.add_column("value", max_width=40, overflow="ellipsis")
    table.add_column("source")
    for s in found:
        table.add_row(
            s.signal_id,
            s.signal_type.value,
            s.instrument_id,
            ns_to_text(s.ts_init),
            f"{s.confidence:.3f}",
            _value_text(s),
            s.source_model,
        )
    return table


def _stats_table(rows: list[SignalStatsRow]) -> Table:
    table = Table(title="Signals by type and source")
    for column in (
        "type",
        "source",
        "accepted",
        "rejected",
        "by reason",
        "delivered",
        "dead-lettered",
    ):
        table.add_column(column)
    for r in rows:
        reasons = ", ".join(f"{k} {v}" for k, v in r.rejected.items()) or "-"
        table.add_row(
            r.signal_type,
            r.source_model,
            str(r.accepted),
            str(r.rejected_total),
            reasons,
            str(r.delivered),
            str(r.dead_lettered),
        )
    return table


def _dlq_table(letters: list[DeadLetter]) -> Table:
    table = Table(title=f"Dead letters ({len(letters)})")
    table.add_column("dead letter", no_wrap=True, min_width=32)
    table.add_column("consumer")
    table.add_column("signal id", no_wrap=True, min_width=36)
    for column in ("type", "attempts", "at", "reason"):
        table.add_column(column)
    for d in letters:
        at = ns_to_text(d.dead_lettered_at_ns)
        if d.replayed_at_ns is not None:
            at += f" (replayed {ns_to_text(d.replayed_at_ns)})"
        table.add_row(
            d.dead_letter_id,
            d.consumer_id,
            d.signal.signal_id,
            d.signal.signal_type.value,
            str(d.attempts),
            at,
            d.reason,
        )
    return table
