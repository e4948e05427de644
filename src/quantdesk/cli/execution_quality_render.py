"""The execution quality of a run's parent orders as a terminal table (``runs show``)."""

from collections.abc import Sequence

from rich.table import Table

from quantdesk.domain.execution_quality import ExecutionQuality


def _bps(value: float | None) -> str:
    return "-" if value is None else f"{value:+,.2f}"


def _price(value: float | None) -> str:
    return "-" if value is None else f"{value:,.6g}"


def execution_quality_table(qualities: Sequence[ExecutionQuality]) -> Table:
    """One row per parent order; costs in bps, positive = paid against the reference."""
    table = Table(
        title="Execution quality",
        caption="bps against the reference, positive = a cost (bought above / sold below)",
    )
    for name in ("strategy", "instrument", "algorithm"):
        table.add_column(name)
    for name in (
        "filled",
        "avg price",
        "arrival",
        "vs arrival bps",
        "interval VWAP",
        "vs VWAP bps",
        "participation",
    ):
        table.add_column(name, justify="right")
    for q in qualities:
        table.add_row(
            q.strategy_id,
            q.instrument_id,
            f"{q.algorithm} {q.side}",
            f"{q.filled_quantity:,.6g}/{q.total_quantity:,.6g} ({q.filled_share:.1%})",
            _price(q.average_price),
            _price(q.arrival_price),
            _bps(q.vs_arrival_bps),
            _price(q.interval_vwap),
            _bps(q.vs_vwap_bps),
            "-" if q.participation is None else f"{q.participation:.2%}",
        )
    return table
