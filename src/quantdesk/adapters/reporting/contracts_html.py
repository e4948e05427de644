"""Dated contracts in a run as a section of the HTML report: the positions settled at expiry
(and, once a run rolls a chain, its rolls)."""

from html import escape

from quantdesk.domain.backtest import BacktestResult
from quantdesk.domain.time import ns_to_iso

_HEAD = ("strategy", "instrument", "time", "quantity", "price", "PnL")


def _cell(text: str, numeric: bool = True) -> str:
    return f'<td class="num">{escape(text)}</td>' if numeric else f"<td>{escape(text)}</td>"


def settlements_section(result: BacktestResult) -> str:
    """Empty when nothing was held to an expiry."""
    if not result.settlements:
        return ""
    rows = []
    for s in result.settlements:
        cells = [
            _cell(result.strategy_name(s.strategy_id), False),
            _cell(s.instrument_id, False),
            _cell(ns_to_iso(s.ts_ns).replace(".000000000Z", "Z"), False),
            _cell(f"{s.quantity:+,g}"),
            _cell(f"{s.price:,g}"),
            _cell("-" if s.pnl is None else f"{s.pnl:,.2f}"),
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{escape(h)}</th>" for h in _HEAD)
    return (
        "<h2>Settled at expiry</h2>\n"
        '<p class="note">positions open at a contract\'s expiry, settled in cash at the final '
        "price (a future's last close, an option's intrinsic value); fills of kind "
        "settlement</p>\n"
        f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>"
    )
