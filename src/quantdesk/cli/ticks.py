"""``quantdesk data ingest trades | quotes | deltas``: tick and order-book files into the catalog.

Beside ``data ingest bars``, with the same conventions: a summary table (or ``--json``),
rejected rows by reason and where they were written, exit code 3 when no row is valid and 2
when the file cannot be read or the request is invalid. Crossed books and quotes are
warnings: counted, listed and written to a file, the rows kept.
"""

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from quantdesk.cli.errors import reported_failures
from quantdesk.cli.progress import RichProgress
from quantdesk.cli.render import rejections_table, warnings_text
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.market_data import TimestampFormat
from quantdesk.domain.ticks import TICK_FIELDS, TickIngestOptions, TickIngestSummary, TickKind
from quantdesk.domain.time import ns_to_text

_File = Annotated[Path, typer.Argument(help="CSV (header row) or Parquet file", show_default=False)]
_Instrument = Annotated[
    str, typer.Option(help="instrument id, defined beforehand", show_default=False)
]
_Columns = Annotated[
    list[str] | None,
    typer.Option(
        "--column",
        help="FIELD=NAME where the file's column name differs (repeatable), e.g. timestamp=time",
        show_default=False,
    ),
]
_Format = Annotated[TimestampFormat, typer.Option(help="ISO-8601 or epoch unit; auto guesses")]
_Utc = Annotated[bool, typer.Option(help="timestamps without a zone are UTC (else rejected)")]
_Chunk = Annotated[
    int, typer.Option(min=1, max=10_000_000, help="rows validated and staged at a time")
]
_Json = Annotated[bool, typer.Option("--json", help="print the summary as JSON")]
_DefaultSize = Annotated[
    float | None, typer.Option(help="bid/ask size for files without size columns")
]
_CHUNK_ROWS: int = TickIngestOptions.model_fields["chunk_rows"].default


def _parameter(
    name: str, annotation: object, default: object = inspect.Parameter.empty
) -> inspect.Parameter:
    """A command parameter, so that the options the kinds share are declared once."""
    return inspect.Parameter(
        name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=annotation, default=default
    )


_HEAD = (
    _parameter("ctx", typer.Context),
    _parameter("file", _File),
    _parameter("instrument", _Instrument),
    _parameter("column", _Columns, None),
    _parameter("ts_format", _Format, TimestampFormat.AUTO),
    _parameter("assume_utc", _Utc, False),
)
_TAIL = (_parameter("chunk_rows", _Chunk, _CHUNK_ROWS), _parameter("as_json", _Json, False))
_EXTRA = {TickKind.QUOTE: (_parameter("default_size", _DefaultSize, None),)}
"""Options one kind of tick has beyond the shared ones, between them and ``--chunk-rows``."""

_HELP = {
    TickKind.TRADE: "Validate a trade-tick file (timestamp, price, size, aggressor_side, "
    "trade_id) and append its new trades to the catalog, with lineage.",
    TickKind.QUOTE: "Validate a quote-tick file (timestamp, bid, ask, bid_size, ask_size) and "
    "append its new quotes to the catalog; a quote with bid > ask is kept and warned about.",
    TickKind.DELTA: "Validate an L2 order-book delta file (timestamp, action, side, price, size "
    "and optional order_id, sequence, flags) and append its new deltas to the catalog.\n\n"
    "The last delta of each timestamp is flagged F_LAST, so the engine batches events; a\n"
    "book crossed after an event is kept and warned about.",
}


def add_tick_commands(ingest: typer.Typer, out: Console, err: Console) -> None:
    """``data ingest trades``, ``quotes`` and ``deltas``: one command per kind, the same options
    (declared once, in ``_HEAD`` and ``_TAIL``) and the kind's own (``_EXTRA``)."""
    for kind in TickKind:
        ingest.command(kind.noun)(_command(kind, out, err))


def _command(kind: TickKind, out: Console, err: Console) -> Callable[..., None]:
    def command(ctx: typer.Context, **given: Any) -> None:
        file, instrument, as_json = given.pop("file"), given.pop("instrument"), given.pop("as_json")
        given["columns"], given["timestamp_format"] = given.pop("column"), given.pop("ts_format")
        with reported_failures(err):
            options = _options(kind, given)
            with RichProgress(err) as progress:
                summary = ctx.obj.platform.ticks.ingest(file, kind, instrument, options, progress)
            if as_json:
                out.print_json(summary.model_dump_json())
                return
            _render(summary, out)

    command.__name__ = f"ingest_{kind.noun}"
    command.__doc__ = _HELP[kind]
    command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [*_HEAD, *_EXTRA.get(kind, ()), *_TAIL]
    )
    return command


def _options(kind: TickKind, given: Mapping[str, object]) -> TickIngestOptions:
    values = dict(given)
    pairs = values.pop("columns") or []
    assert isinstance(pairs, list)
    columns: dict[str, str] = {}
    for pair in pairs:
        field, sep, name = str(pair).partition("=")
        if not sep or not field.strip() or not name.strip():
            raise InvalidInputError(f"--column {pair!r}: expected FIELD=NAME, e.g. timestamp=time")
        if field.strip() not in TICK_FIELDS[kind]:
            raise InvalidInputError(
                f"--column {pair!r}: {kind.noun} have no field {field.strip()!r}",
                hint=f"fields: {', '.join(TICK_FIELDS[kind])}",
            )
        columns[field.strip()] = name.strip()
    try:
        return TickIngestOptions.model_validate({**values, "columns": columns})
    except ValidationError as error:
        raise InvalidInputError(str(error.errors()[0]["msg"])) from error


def _render(summary: TickIngestSummary, out: Console) -> None:
    table = Table(title=f"Ingest summary ({summary.data_type.noun})")
    for column in ("series", "read", "written", "already there", "rejected", "warnings", "range"):
        table.add_column(column, justify="left" if column in ("series", "range") else "right")
    span = (
        f"{ns_to_text(summary.first_ts)} .. {ns_to_text(summary.last_ts)}"
        if summary.first_ts is not None and summary.last_ts is not None
        else "-"
    )
    table.add_row(
        summary.instrument_id,
        f"{summary.rows_read:,}",
        f"{summary.rows_written:,}",
        f"{summary.rows_already_present:,}",
        f"{summary.rows_rejected:,}",
        f"{sum(summary.warnings_by_kind.values()):,}",
        span,
    )
    out.print(table)
    if summary.rows_rejected:
        out.print(rejections_table(summary.rejected_by_reason))
        out.print(f"rejected rows: {summary.rejects_path}", soft_wrap=True, highlight=False)
    if summary.warnings_by_kind:
        warnings = Table(title="Warnings (rows kept)")
        for column in ("row", "kind", "detail"):
            warnings.add_column(column)
        for warning in summary.first_warnings:
            warnings.add_row(str(warning.row), warning.kind.value, warning.detail)
        out.print(warnings)
        counts = warnings_text(summary.warnings_by_kind)
        out.print(f"warnings: {counts}; all in {summary.warnings_path}", soft_wrap=True)
    if summary.rows_already_present and not summary.rows_written:
        out.print("Nothing new: every valid row is already in the catalog.")
