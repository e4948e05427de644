"""Tables for the terminal."""

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from rich.table import Table

from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.market_data import CatalogEntry, IngestSummary, LineageRecord
from quantdesk.domain.time import ns_to_text


def _ts(ns: int | None) -> str:
    return "-" if ns is None else ns_to_text(ns)


def _plain(value: object) -> str:
    """Decimals as written (0.0000001), not in exponent form (1E-7)."""
    if isinstance(value, str):
        try:
            return f"{Decimal(value):f}"
        except InvalidOperation:
            return value
    return str(value)


def instruments_table(specs: list[InstrumentSpec]) -> Table:
    table = Table(title="Instruments")
    columns = ("instrument", "class", "currency", "base", "tick", "size incr.", "mult.", "expires")
    for column in (*columns, "venue"):
        table.add_column(column)
    for s in specs:
        table.add_row(
            s.instrument_id,
            s.asset_class.value,
            s.currency,
            s.base_currency or "-",
            f"{s.tick_size:f}",
            f"{s.size_increment:f}",
            f"{s.multiplier:f}",
            "-" if s.expiration_ns is None else ns_to_text(s.expiration_ns),
            s.venue,
        )
    return table


def instrument_table(spec: InstrumentSpec) -> Table:
    table = Table(title=spec.instrument_id, show_header=False)
    table.add_column("field")
    table.add_column("value")
    for key, value in spec.model_dump(mode="json").items():
        if key in ("activation_ns", "expiration_ns") and value is not None:
            table.add_row(key, f"{value} ({ns_to_text(value)} UTC)")
            continue
        table.add_row(key, "-" if value is None else _plain(value))
    table.add_row("price_precision", str(spec.price_precision))
    table.add_row("size_precision", str(spec.size_precision))
    return table


def ingest_table(summaries: list[IngestSummary]) -> Table:
    table = Table(title="Ingest summary")
    for column in ("series", "read", "written", "already there", "rejected", "rounded", "range"):
        table.add_column(column, justify="right" if column not in ("series", "range") else "left")
    for s in summaries:
        table.add_row(
            s.bar_type,
            f"{s.rows_read:,}",
            f"{s.rows_written:,}",
            f"{s.rows_already_present:,}",
            f"{s.rows_rejected:,}",
            f"{s.rows_rounded:,}",
            f"{_ts(s.first_ts)} .. {_ts(s.last_ts)}" if s.rows_written else "-",
        )
    return table


def rejections_table(by_reason: Mapping[str, int]) -> Table:
    """An ingest's rejected rows counted by reason (bars and ticks alike)."""
    table = Table(title="Rejected rows by reason")
    table.add_column("reason")
    table.add_column("rows", justify="right")
    for reason, count in by_reason.items():
        table.add_row(reason, f"{count:,}")
    return table


def catalog_table(entries: list[CatalogEntry]) -> Table:
    table = Table(title="Catalog")
    for column in ("instrument", "data type", "series", "first", "last", "count", "files"):
        table.add_column(column, justify="right" if column in ("count", "files") else "left")
    for e in entries:
        table.add_row(
            e.instrument_id,
            e.data_type,
            e.identifier,
            _ts(e.first_ts),
            _ts(e.last_ts),
            f"{e.count:,}",
            str(e.files),
        )
    return table


def lineage_table(records: list[LineageRecord]) -> Table:
    table = Table(title="Lineage")
    for column in ("ingest", "series", "source", "sha256", "written", "range", "files"):
        table.add_column(column)
    for r in records:
        table.add_row(
            r.ingest_id,
            r.bar_type,
            r.source if len(r.source) <= 60 else "..." + r.source[-57:],
            r.source_sha256[:12],
            f"{r.rows_written:,}",
            f"{_ts(r.first_ts)} .. {_ts(r.last_ts)}",
            str(len(r.files_added)),
        )
    return table


def warnings_text(by_kind: Mapping[str, int]) -> str:
    """``crossed_book x3, crossed_quote x1``: kept rows that look wrong, by kind."""
    return ", ".join(f"{kind} x{count:,}" for kind, count in sorted(by_kind.items()))
