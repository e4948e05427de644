"""Tables for backtest results and run comparisons."""

from collections.abc import Callable, Mapping

from rich.table import Table

from quantdesk.domain.backtest import BacktestResult, Metrics
from quantdesk.domain.runs import RunRecord
from quantdesk.domain.time import ns_to_text

_DAY_NS = 86_400_000_000_000


RUN_ERROR_SHOWN = 80  # characters of a failed run's reason in the list (runs show has it all)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:,.2f}%"


def _num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _duration(ns: int) -> str:
    days, rest = divmod(ns, _DAY_NS)
    return f"{days}d {rest / 3_600_000_000_000:.1f}h"


METRIC_ROWS: list[tuple[str, Callable[[Metrics], str]]] = [
    ("start equity", lambda m: _num(m.start_equity)),
    ("end equity", lambda m: _num(m.end_equity)),
    ("PnL", lambda m: _num(m.pnl)),
    ("total return", lambda m: _pct(m.total_return)),
    ("CAGR", lambda m: _pct(m.cagr)),
    ("annual volatility", lambda m: _pct(m.annual_volatility)),
    ("Sharpe", lambda m: _num(m.sharpe)),
    ("Sortino", lambda m: _num(m.sortino)),
    ("Calmar", lambda m: _num(m.calmar)),
    ("max drawdown", lambda m: _pct(m.max_drawdown)),
    ("max drawdown duration", lambda m: _duration(m.max_drawdown_duration_ns)),
    ("trades", lambda m: f"{m.trade_count:,}"),
    ("win rate", lambda m: _pct(m.win_rate)),
    ("profit factor", lambda m: _num(m.profit_factor)),
    ("average win", lambda m: _num(m.avg_win)),
    ("average loss", lambda m: _num(m.avg_loss)),
    ("expectancy", lambda m: _num(m.expectancy)),
    ("exposure", lambda m: _pct(m.exposure)),
    ("turnover", lambda m: _num(m.turnover)),
    ("fees", lambda m: _num(m.fees)),
]


def result_table(result: BacktestResult) -> Table:
    request = result.request
    assert request.start_ns is not None and request.end_ns is not None
    table = Table(
        title=f"Backtest {result.run_id}",
        caption=f"{ns_to_text(request.start_ns)} .. {ns_to_text(request.end_ns)}, "
        f"{len(result.instruments)} instrument(s), {len(request.strategies)} strategy(ies): "
        f"{', '.join(request.strategies)}",
    )
    table.add_column("metric")
    table.add_column("portfolio", justify="right")
    for attribution in result.attribution:
        table.add_column(result.strategy_name(attribution.strategy_id), justify="right")
    for label, value in METRIC_ROWS:
        table.add_row(label, value(result.metrics), *(value(a.metrics) for a in result.attribution))
    for c in result.conversions:  # the rates the portfolio's figures are converted at
        table.caption = (
            f"{table.caption}\n{c.currency} -> {c.base_currency} at {c.bar_type}"
            f"{' (inverted)' if c.inverted else ''}: {c.points:,} rates "
            f"{c.first_rate:.6g} .. {c.last_rate:.6g}"
        )
    return table


def strategies_table(result: BacktestResult) -> Table:
    """Which registry version each strategy was, what it read, and the id its fills carry."""
    table = Table(title="Strategies")
    for column in ("strategy", "family", "bars", "content", "engine id"):
        table.add_column(column)
    for s in result.strategies:
        bars = ", ".join(s.bar_types)
        if s.market_data != "bars":
            bars += f" (built from {s.market_data})"
        table.add_row(s.ref, s.family, bars, s.content_hash[:12] or "-", s.nautilus_id)
    return table


def facts_table(result: BacktestResult) -> Table:
    facts = result.facts
    table = Table(title="Engine", show_header=False)
    table.add_column("fact")
    table.add_column("value", justify="right")
    table.add_row("nautilus_trader", facts.nautilus_trader_version)
    if facts.bars or not facts.ticks:
        table.add_row("bars", f"{facts.bars:,}")
    if facts.ticks:
        table.add_row("ticks (or book deltas)", f"{facts.ticks:,}")
    table.add_row("events processed", f"{facts.events_processed:,}")
    table.add_row(
        "orders / fills / closed positions",
        f"{facts.orders:,} / {facts.fills:,} / {facts.positions_closed:,}",
    )
    if result.execution is not None:
        e = result.execution
        table.add_row(
            "split orders / later parts / slippage",
            f"{e.split_orders:,} of {e.orders_filled:,} / {e.split_fills:,} / {e.slippage:,.2f}",
        )
    table.add_row("orders refused by the engine", f"{result.orders_refused:,}")
    table.add_row("engine wall time", f"{facts.wall_seconds:,.2f} s")
    if facts.bars or not facts.ticks:
        table.add_row("bars/s", f"{facts.bars_per_second:,.0f}")
    if facts.ticks:
        table.add_row("ticks/s", f"{facts.ticks_per_second:,.0f}")
    table.add_row("fingerprint", result.fingerprint)
    return table


def runs_table(records: list[RunRecord], results: Mapping[str, BacktestResult]) -> Table:
    """Every run with its state; a run that did not complete shows why (``results``: the
    stored results by run id, for the instruments of completed runs)."""
    table = Table(title="Runs")
    for column in (
        "run",
        "state",
        "label",
        "instruments",
        "strategies",
        "return",
        "sharpe",
        "max dd",
        "trades",
    ):
        table.add_column(column)
    for record in records:
        result = results.get(record.run_id)
        summary = record.summary
        state = record.state.value
        if record.error:
            state = f"{state}: {record.error[:RUN_ERROR_SHOWN]}"
        table.add_row(
            record.run_id,
            state,
            record.label or "-",
            ", ".join(result.instruments) if result is not None else "-",
            str(len(record.strategies)),
            "-" if summary is None else _pct(summary.total_return),
            "-" if summary is None else _num(summary.sharpe),
            "-" if summary is None else _pct(summary.max_drawdown),
            "-" if summary is None else f"{summary.trade_count:,}",
        )
    return table


def compare_table(a: BacktestResult, b: BacktestResult, same_fills: bool | None) -> Table:
    table = Table(title=f"{a.run_id} vs {b.run_id}")
    table.add_column("metric")
    table.add_column("A", justify="right")
    table.add_column("B", justify="right")
    table.add_column("B - A", justify="right")
    for label, value in METRIC_ROWS:
        table.add_row(label, value(a.metrics), value(b.metrics), _delta(label, a, b))
    table.add_row(
        "fingerprint",
        a.fingerprint[:16],
        b.fingerprint[:16],
        "same" if a.fingerprint == b.fingerprint else "differs",
    )
    verdict = "n/a" if same_fills is None else ("identical" if same_fills else "differ")
    table.add_row("fills", f"{a.facts.fills:,}", f"{b.facts.fills:,}", verdict)
    return table


_FIELDS = {
    "PnL": "pnl",
    "total return": "total_return",
    "Sharpe": "sharpe",
    "max drawdown": "max_drawdown",
    "trades": "trade_count",
    "fees": "fees",
}


def _delta(label: str, a: BacktestResult, b: BacktestResult) -> str:
    name = _FIELDS.get(label)
    if name is None:
        return ""
    left, right = getattr(a.metrics, name), getattr(b.metrics, name)
    if left is None or right is None:
        return "n/a"
    return f"{right - left:+,.4g}"


def risk_table(result: BacktestResult) -> Table:
    table = Table(title="Risk events by rule")
    table.add_column("rule")
    table.add_column("events", justify="right")
    table.add_column("first", justify="left")
    for rule, count in result.risk_counts.items():
        first = next(e for e in result.risk_events if e.rule == rule)
        table.add_row(rule, f"{count:,}", f"{ns_to_text(first.ts_ns)} {first.detail}")
    return table


MAX_SIGNAL_ROWS = 20


def signals_table(result: BacktestResult) -> Table:
    """Signal -> decision -> fill: totals in the caption, the first signals acted on."""
    p = result.provenance
    assert p is not None  # callers check
    table = Table(
        title="Signals acted on",
        caption=(
            f"{p.signals_replayed:,} replayed, {p.signals_consumed:,} consumed, "
            f"{p.signals_acted_on:,} acted on; orders {p.orders:,} "
            f"({p.orders_approved:,} approved, {p.orders_denied:,} denied); fills "
            f"{p.fills_on_signals:,} on signals, {p.fills_without_signal:,} without"
        ),
    )
    for name in ("signal", "known at", "instrument", "source", "trace"):
        table.add_column(name)
    table.add_column("orders ok/denied", justify="right")
    table.add_column("fills", justify="right")
    for t in p.traces[:MAX_SIGNAL_ROWS]:
        table.add_row(
            t.signal_id[:8],
            ns_to_text(t.ts_init),
            t.instrument_id,
            t.source_model,
            t.trace_id,
            f"{t.orders_approved:,}/{t.orders_denied:,}",
            f"{t.fills:,}",
        )
    if len(p.traces) > MAX_SIGNAL_ROWS:
        table.add_row(f"… {len(p.traces) - MAX_SIGNAL_ROWS:,} more (--json)", *[""] * 6)
    return table


def refusals_table(result: BacktestResult) -> Table:
    """Orders the engine rejected or denied, by reason, with their first times."""
    table = Table(title="Orders refused by the engine")
    for name in ("kind", "reason", "orders", "first", "example"):
        table.add_column(name, justify="right" if name == "orders" else "left")
    for r in result.engine_rejections[:MAX_REFUSAL_ROWS]:
        table.add_row(
            r.kind,
            r.reason,
            f"{r.count:,}",
            ", ".join(ns_to_text(ts) for ts in r.first_ts[:3]),
            r.example,
        )
    more = len(result.engine_rejections) - MAX_REFUSAL_ROWS
    if more > 0:
        table.add_row(f"… {more:,} more reasons (--json)", *[""] * 4)
    return table


MAX_REFUSAL_ROWS = 10


def settlements_table(result: BacktestResult) -> Table:
    """Positions settled at a dated contract's expiry (the fills of kind settlement)."""
    table = Table(title="Settled at expiry")
    for name in ("strategy", "instrument", "at", "quantity", "price", "PnL"):
        table.add_column(name, justify="right" if name in ("quantity", "price", "PnL") else "left")
    for s in result.settlements:
        table.add_row(
            result.strategy_name(s.strategy_id),
            s.instrument_id,
            ns_to_text(s.ts_ns),
            f"{s.quantity:+,g}",
            f"{s.price:,g}",
            _num(s.pnl),
        )
    return table


def rolls_table(result: BacktestResult) -> Table:
    """Positions rolled along a futures chain (the fills of kind roll, paired)."""
    table = Table(title="Rolled")
    for name in ("strategy", "at", "from", "to", "quantity", "close", "open"):
        table.add_column(name, justify="right" if name in ("quantity", "close", "open") else "left")
    for r in result.rolls:
        table.add_row(
            result.strategy_name(r.strategy_id),
            ns_to_text(r.ts_ns),
            r.from_instrument,
            r.to_instrument or "(not opened)",
            f"{r.quantity:+,g}",
            f"{r.close_price:,g}",
            "-" if r.open_price is None else f"{r.open_price:,g}",
        )
    return table
