"""Dated contracts in a run as sections of the HTML report: the positions settled at expiry
and the rolls along futures chains."""

from html import escape

from quantdesk.domain.backtest import BacktestResult
from quantdesk.domain.time import ns_to_iso

_HEAD = ("strategy", "instrument", "time", "quantity", "price", "PnL")
_ROLL_HEAD = ("strategy", "time", "from", "to", "quantity", "close", "open")


def _cell(text: str, numeric: bool = True) -> str:
    return f'<td class="num">{escape(text)}</td>' if numeric else f"<td>{escape(text)}</td>"


def _time(ts_ns: int) -> str:
    return _cell(ns_to_iso(ts_ns).replace(".000000000Z", "Z"), False)


def _section(title: str, note: str, head: tuple[str, ...], rows: list[list[str]]) -> str:
    """``note``: HTML already; ``rows``: cells already ``<td>``."""
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "\n".join("<tr>" + "".join(cells) + "</tr>" for cells in rows)
    return (
        f"<h2>{title}</h2>\n"
        f'<p class="note">{note}</p>\n'
        f"<table><thead><tr>{header}</tr></thead><tbody>\n{body}\n</tbody></table>"
    )


def settlements_section(result: BacktestResult) -> str:
    """Empty when nothing was held to an expiry."""
    if not result.settlements:
        return ""
    rows = [
        [
            _cell(result.strategy_name(s.strategy_id), False),
            _cell(s.instrument_id, False),
            _time(s.ts_ns),
            _cell(f"{s.quantity:+,g}"),
            _cell(f"{s.price:,g}"),
            _cell("-" if s.pnl is None else f"{s.pnl:,.2f}"),
        ]
        for s in result.settlements
    ]
    note = (
        "positions open at a contract's expiry, settled in cash at the final price (a "
        "future's last close, an option's intrinsic value); fills of kind settlement"
    )
    return _section("Settled at expiry", note, _HEAD, rows)


def rolls_section(result: BacktestResult) -> str:
    """Empty when the run rolled no chain."""
    if not result.rolls:
        return ""
    rows = [
        [
            _cell(result.strategy_name(r.strategy_id), False),
            _time(r.ts_ns),
            _cell(r.from_instrument, False),
            _cell(r.to_instrument or "(not opened)", False),
            _cell(f"{r.quantity:+,g}"),
            _cell(f"{r.close_price:,g}"),
            _cell("-" if r.open_price is None else f"{r.open_price:,g}"),
        ]
        for r in result.rolls
    ]
    rules = "; ".join(escape(rule.describe()) for rule in result.request.rolls)
    note = (
        f"positions carried along a futures chain ({rules}); the two trades of each roll are "
        "fills of kind roll"
    )
    return _section("Rolled", note, _ROLL_HEAD, rows)
