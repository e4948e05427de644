"""Dated contracts in a run as sections of the HTML report: the positions settled at expiry
and the rolls along futures chains."""

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


_ROLL_HEAD = ("strategy", "time", "from", "to", "quantity", "close", "open")


def rolls_section(result: BacktestResult) -> str:
    """Empty when the run rolled no chain."""
    if not result.rolls:
        return ""
    rows = []
    for r in result.rolls:
        cells = [
            _cell(result.strategy_name(r.strategy_id), False),
            _cell(ns_to_iso(r.ts_ns).replace(".000000000Z", "Z"), False),
            _cell(r.from_instrument, False),
            _cell(r.to_instrument or "(not opened)", False),
            _cell(f"{r.quantity:+,g}"),
            _cell(f"{r.close_price:,g}"),
            _cell("-" if r.open_price is None else f"{r.open_price:,g}"),
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{escape(h)}</th>" for h in _ROLL_HEAD)
    rules = "; ".join(escape(rule.describe()) for rule in result.request.rolls)
    return (
        "<h2>Rolled</h2>\n"
        f'<p class="note">positions carried along a futures chain ({rules}); the two trades '
        "of each roll are fills of kind roll</p>\n"
        f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>"
    )
