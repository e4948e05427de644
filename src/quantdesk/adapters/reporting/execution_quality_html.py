"""The execution quality of a run's parent orders as a section of the HTML report."""

from collections.abc import Sequence
from html import escape

from quantdesk.domain.execution_quality import ExecutionQuality

_HEAD = (
    "strategy",
    "instrument",
    "algorithm",
    "filled",
    "filled share",
    "avg price",
    "arrival",
    "vs arrival (bps)",
    "interval VWAP",
    "vs VWAP (bps)",
    "market volume",
    "participation",
)


def _cell(text: str, numeric: bool = True) -> str:
    return f'<td class="num">{escape(text)}</td>' if numeric else f"<td>{escape(text)}</td>"


def _maybe(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def execution_quality_section(qualities: Sequence[ExecutionQuality]) -> str:
    """Empty when the run had no execution-family strategy."""
    if not qualities:
        return ""
    rows = []
    for q in qualities:
        cells = [
            _cell(q.strategy_id, False),
            _cell(q.instrument_id, False),
            _cell(f"{q.algorithm} {q.side}", False),
            _cell(f"{q.filled_quantity:,.6g} / {q.total_quantity:,.6g}"),
            _cell(f"{q.filled_share:.1%}"),
            _cell(_maybe(q.average_price, ",.6g")),
            _cell(f"{q.arrival_price:,.6g}"),
            _cell(_maybe(q.vs_arrival_bps, "+,.2f")),
            _cell(_maybe(q.interval_vwap, ",.6g")),
            _cell(_maybe(q.vs_vwap_bps, "+,.2f")),
            _cell(f"{q.market_volume:,.0f}"),
            _cell(_maybe(q.participation, ".2%")),
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{escape(h)}</th>" for h in _HEAD)
    note = (
        '<p class="note">Average fill price against the arrival price (the first bar\'s close) '
        "and the interval VWAP of the execution window, in bps: positive is a cost.</p>"
    )
    return (
        "<h2>Execution quality</h2>\n"
        + note
        + "\n<table><thead><tr>"
        + head
        + "</tr></thead><tbody>\n"
        + "\n".join(rows)
        + "\n</tbody></table>"
    )
