"""A backtest run as one self-contained HTML page: chart, metrics, attribution, provenance.

The page inlines plotly.js once, so it opens offline and can be mailed or archived beside the
run. Long series are thinned before plotting (each bucket keeps its lowest and highest point,
so spikes and the deepest drawdown survive): a million-bar run gives a page of ~5.5 MB, most
of it plotly.js itself. Every piece of text from the run is escaped: labels and ids are user
input.
"""

import importlib.resources
import io
import math
import shutil
from collections.abc import Callable, Sequence
from html import escape
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt

from quantdesk.adapters.reporting.contracts_html import rolls_section, settlements_section
from quantdesk.adapters.reporting.execution_quality_html import execution_quality_section
from quantdesk.domain.backtest import (
    BacktestResult,
    DataUsed,
    EngineFacts,
    FillRecord,
    Metrics,
)
from quantdesk.domain.record_log import as_log
from quantdesk.domain.time import ns_to_iso
from quantdesk.services.columns import Float64Array, Int64Array
from quantdesk.services.performance import drawdown
from quantdesk.services.ports import RunArtifacts

MAX_LINE_POINTS = 3_000  # per line: min and max of 1,500 buckets, about a wide screen's pixels
MAX_MARKERS = 5_000  # most recent fills drawn as markers
MAX_PRICE_PANELS = 4
CHECKSUM_CHARS = 12

Number = float | int | None
Formatter = Callable[[Number], str]


def _finite(fmt: Callable[[float], str]) -> Formatter:
    """Missing values read "n/a"; infinities are shown as such rather than as "inf%"."""

    def format_value(value: Number) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "n/a"
        if isinstance(value, float) and math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return fmt(value)

    return format_value


_pct = _finite(lambda v: f"{v * 100:,.2f}%")
_money = _finite(lambda v: f"{v:,.2f}")
_ratio = _finite(lambda v: f"{v:,.2f}")
_count = _finite(lambda v: f"{int(v):,}")
_times = _finite(lambda v: f"{v:,.2f}x")
_one_decimal = _finite(lambda v: f"{v:,.1f}")
_seconds = _finite(lambda v: f"{v:,.2f} s")
_generic = _finite(lambda v: f"{v:,}" if isinstance(v, int) else f"{v:,.6g}")


def _duration_text(ns: float) -> str:
    seconds = int(ns) // 1_000_000_000
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days:,}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {seconds}s"
    return f"{seconds}s"


_duration = _finite(_duration_text)

# Every Metrics field, in reading order; a field missing here still renders, under its name.
METRIC_FORMATS: dict[str, tuple[str, Formatter]] = {
    "start_equity": ("Start equity", _money),
    "end_equity": ("End equity", _money),
    "pnl": ("PnL", _money),
    "total_return": ("Total return", _pct),
    "cagr": ("CAGR", _pct),
    "annual_volatility": ("Annual volatility", _pct),
    "sharpe": ("Sharpe ratio", _ratio),
    "sortino": ("Sortino ratio", _ratio),
    "calmar": ("Calmar ratio", _ratio),
    "max_drawdown": ("Max drawdown", _pct),
    "max_drawdown_duration_ns": ("Max drawdown duration", _duration),
    "trade_count": ("Trades", _count),
    "win_rate": ("Win rate", _pct),
    "profit_factor": ("Profit factor", _ratio),
    "avg_win": ("Average win", _money),
    "avg_loss": ("Average loss", _money),
    "expectancy": ("Expectancy per trade", _money),
    "exposure": ("Exposure", _pct),
    "turnover": ("Turnover", _times),
    "fees": ("Fees", _money),
    "periods_per_year": ("Return periods per year", _one_decimal),
}

FACT_FORMATS: dict[str, tuple[str, Formatter]] = {
    "bars": ("Bars", _count),
    "events_processed": ("Events processed", _count),
    "orders": ("Orders", _count),
    "fills": ("Fills", _count),
    "positions_closed": ("Positions closed", _count),
    "wall_seconds": ("Wall time", _seconds),
    "bars_per_second": ("Bars per second", _count),
    "ticks": ("Ticks (or book deltas)", _count),
    "ticks_per_second": ("Ticks per second", _count),
}

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
       max-width: 1400px; padding: 1rem 2rem; color: #1f2933; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #d9e2ec; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { padding: 0.25rem 0.75rem; border-bottom: 1px solid #eef2f6; text-align: left;
         vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 0.85rem; }
.label { color: #52606d; font-size: 1.05rem; }
.status { display: inline-block; padding: 0.1rem 0.5rem; border-radius: 0.25rem;
          font-size: 0.8rem; text-transform: uppercase; }
.status-completed { background: #e3f9e5; color: #1b5e20; }
.status-failed { background: #ffe3e3; color: #8a1c1c; }
.error { background: #ffe3e3; padding: 0.5rem 1rem; white-space: pre-wrap; }
.note { color: #7b8794; font-size: 0.85rem; }
.warning { color: #b44d12; font-weight: 600; }
.metrics { columns: 3 22rem; }
.metrics tr { break-inside: avoid; }
pre { background: #f5f7fa; padding: 0.75rem; overflow-x: auto; font-size: 0.8rem; }
"""


class HtmlReportRenderer:
    """Renders a run's page; the same run always renders to the same bytes."""

    def render(self, result: BacktestResult, artifacts: RunArtifacts) -> str:
        page = io.StringIO()
        self.write(result, artifacts, page)
        return page.getvalue()

    def write(self, result: BacktestResult, artifacts: RunArtifacts, out: TextIO) -> None:
        """The page part by part: plotly.js is copied from plotly's own file, never a string."""
        title = f"Backtest {result.run_id}" + (
            f" · {result.request.label}" if result.request.label else ""
        )
        parts: list[Part] = [
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>",
            _header(result, artifacts),
            *_chart(result, artifacts),
            _metrics(result.metrics, _currency(result)),
            _attribution(result),
            _engine_refusals(result),
            _execution(result),
            execution_quality_section(result.execution_quality),
            settlements_section(result),
            rolls_section(result),
            _risk(result),
            _signals(result),
            _facts(result.facts),
            _data_used(result.data),
            _provenance(result),
            f'<p class="note">quantdesk {escape(result.facts.quantdesk_version)}</p>',
            "</body>\n</html>",
        ]
        for part in parts:
            if isinstance(part, str):
                out.write(part)
            else:
                part(out)
            out.write("\n")


Part = str | Callable[[TextIO], None]
"""A piece of the page: its text, or what writes it (plotly.js, from its file)."""


def _write_plotlyjs(out: TextIO) -> None:
    """plotly.js in 1 MiB pieces from the file plotly ships (its own reader holds it whole)."""
    bundled = importlib.resources.files("plotly") / "package_data" / "plotly.min.js"
    with bundled.open("r", encoding="utf-8") as source:
        shutil.copyfileobj(source, out, 1 << 20)


# sections ------------------------------------------------------------------------------------


def _header(result: BacktestResult, artifacts: RunArtifacts) -> str:
    request = result.request
    start = request.start_ns
    end = request.end_ns
    if (start is None or end is None) and len(artifacts.curve):
        start = int(artifacts.curve.ts_ns[0]) if start is None else start
        end = int(artifacts.curve.ts_ns[-1]) if end is None else end
    period = f"{_iso(start)} → {_iso(end)}" if start is not None and end is not None else "n/a"
    strategies = "<br>".join(
        f"<code>{escape(s.ref)}</code> ({escape(s.family)}, "
        f"{escape(', '.join(s.bar_types))}"
        + (f", content {escape(s.content_hash[:12])}" if s.content_hash else "")
        + ")"
        for s in result.strategies
    ) or escape(", ".join(request.strategies))
    rows = [
        ("Run", f"<code>{escape(result.run_id)}</code>"),
        ("Period (UTC)", escape(period)),
        ("Instruments", escape(", ".join(result.instruments))),
        ("Bars", escape(", ".join(d.bar_type for d in result.data))),
        ("Strategies", strategies),
        ("Seed", escape(str(request.seed))),
        (
            "Ran",
            escape(
                f"{_iso(result.started_at_ns)}, "
                f"{_duration_text(result.finished_at_ns - result.started_at_ns)}"
            ),
        ),
        ("Fingerprint", f"<code>{escape(result.fingerprint)}</code>"),
    ]
    if result.conversions:
        rows.insert(3, ("Converted", _conversions(result)))
    status = escape(result.status.value)
    parts = [
        f"<h1>Backtest <code>{escape(result.run_id)}</code> "
        f'<span class="status status-{status}">{status}</span></h1>',
    ]
    if request.label:
        parts.append(f'<div class="label">{escape(request.label)}</div>')
    if result.error:
        parts.append(f'<div class="error">{escape(result.error)}</div>')
    parts.append(_table(None, [[_th(k), v] for k, v in rows]))
    return "\n".join(parts)


Figure = dict[str, Any]


def _chart(result: BacktestResult, artifacts: RunArtifacts) -> list[Part]:
    """Equity, drawdown and up to four price panels on one shared time axis.

    The figure is plotly's JSON as plain dicts, rendered without validation: building it
    through ``graph_objects`` loads plotly's validators, tens of MB at the end of a long run.
    plotly.js is its own part of the page, written from its file.
    """
    curve = artifacts.curve
    if len(curve) == 0:
        return ['<h2>Equity</h2>\n<p class="note">no equity points: the run read no bars</p>']
    instruments = [i for i, (ts, _) in artifacts.prices.items() if len(ts)]
    shown = instruments[:MAX_PRICE_PANELS]
    fig = _panels(
        ["Equity", "Drawdown", *(escape(i) for i in shown)], [3.0, 1.5, *[2.0] * len(shown)]
    )
    notes: list[str] = []

    picked = downsample(curve.equity)
    _line(
        fig,
        1,
        curve.ts_ns[picked],
        curve.equity[picked],
        "equity",
        "#1f77b4",
        1.5,
        "%{x}<br>equity %{y:,.2f}<extra></extra>",
    )
    under = drawdown(curve)
    picked_dd = downsample(under)
    _line(
        fig,
        2,
        curve.ts_ns[picked_dd],
        under[picked_dd],
        "drawdown",
        "#d62728",
        1,
        "%{x}<br>drawdown %{y:.2%}<extra></extra>",
        fill="tozeroy",
    )
    fig["layout"]["yaxis2"]["tickformat"] = ".1%"
    if len(picked) < len(curve):
        notes.append(
            f"Equity and drawdown: {len(curve):,} points, drawn with the lowest and highest of "
            f"each of {MAX_LINE_POINTS // 2:,} buckets."
        )
    for row, instrument_id in enumerate(shown, start=3):
        ts, close = artifacts.prices[instrument_id]
        picked = downsample(close)
        _line(
            fig,
            row,
            ts[picked],
            close[picked],
            escape(instrument_id),
            "#52606d",
            1,
            "%{x}<br>close %{y:.10~g}<extra></extra>",
        )
        if len(picked) < len(ts):
            notes.append(f"{escape(instrument_id)}: {len(ts):,} closes, thinned the same way.")
    if len(instruments) > len(shown):
        notes.append(
            f"Prices of the first {len(shown)} of {len(instruments)} instruments are drawn; "
            f"not drawn: {escape(', '.join(instruments[len(shown) :]))}."
        )
    notes.extend(_add_markers(fig, artifacts.fills, shown, result.strategy_name))

    import plotly.io

    chart = plotly.io.to_html(
        fig,
        validate=False,
        full_html=False,
        include_plotlyjs=False,
        div_id="equity-chart",
        config={"displaylogo": False, "responsive": True},
    )
    notes_html = "".join(f'<p class="note">{note}</p>' for note in notes)
    return [
        "<h2>Equity</h2>",
        "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>\n<script>",
        _write_plotlyjs,
        "</script>",
        chart,
        notes_html,
    ]


def _panels(titles: list[str], heights: list[float]) -> Figure:
    """Stacked panels sharing the first panel's time axis, each with its title above it."""
    gap = min(0.04, 0.5 / max(len(titles) - 1, 1))
    usable = 1.0 - gap * (len(titles) - 1)
    total = sum(heights)
    layout: dict[str, Any] = {
        "height": 320 + 160 + 220 * (len(titles) - 2) + 60,
        "margin": {"l": 60, "r": 20, "t": 40, "b": 30},
        "hovermode": "closest",
        "showlegend": True,
        "legend": {"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "annotations": [],
    }
    top = 1.0
    for row, (title, height) in enumerate(zip(titles, heights, strict=True), start=1):
        bottom = max(top - usable * height / total, 0.0)
        suffix = "" if row == 1 else str(row)
        layout[f"xaxis{suffix}"] = {
            "type": "date",
            "anchor": f"y{suffix}",
            "domain": [0.0, 1.0],
            "showgrid": True,
            "gridcolor": "#ebf0f8",
            "showticklabels": row == len(titles),
            **({} if row == 1 else {"matches": "x"}),
        }
        layout[f"yaxis{suffix}"] = {
            "anchor": f"x{suffix}",
            "domain": [bottom, top],
            "gridcolor": "#ebf0f8",
            "zerolinecolor": "#ebf0f8",
        }
        layout["annotations"].append(
            {
                "text": title,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": top,
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 14},
            }
        )
        top = bottom - gap
    return {"data": [], "layout": layout}


def _axes(row: int) -> dict[str, str]:
    suffix = "" if row == 1 else str(row)
    return {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}


def _line(
    fig: Figure,
    row: int,
    ts_ns: Int64Array,
    values: Float64Array,
    name: str,
    color: str,
    width: float,
    hover: str,
    fill: str | None = None,
) -> None:
    trace: dict[str, Any] = {
        "type": "scatter",
        "x": _dates(ts_ns),
        "y": values,
        "mode": "lines",
        "name": name,
        "showlegend": False,
        "line": {"color": color, "width": width},
        "hovertemplate": hover,
        **_axes(row),
    }
    if fill is not None:
        trace["fill"] = fill
    fig["data"].append(trace)


def _add_markers(
    fig: Figure, fills: Sequence[FillRecord], shown: list[str], name_of: Callable[[str], str]
) -> list[str]:
    """Buy and sell markers on each drawn instrument's panel, named by the strategy version
    (``name_of``: engine id -> ``id@version``); returns notes on what is left out.

    Only the drawn fills become records: a long run's fills stay columns.
    """
    log = as_log(FillRecord, fills)
    codes, instruments = log.encoded("instrument_id")
    wanted = {code for code, instrument_id in enumerate(instruments) if instrument_id in shown}
    rows = [row for row, code in enumerate(codes) if code in wanted]
    notes = []
    if len(rows) > MAX_MARKERS:
        ts = np.array(log.numbers("ts_ns"), dtype=np.int64)[rows]
        order = np.argsort(ts, kind="stable")
        rows = [rows[i] for i in order[-MAX_MARKERS:].tolist()]
        notes.append(
            f"Trade markers: the {MAX_MARKERS:,} most recent of {len(fills):,} fills are drawn."
        )
    drawn = list(log.select(rows))
    legend_done: set[int] = set()
    for row, instrument_id in enumerate(shown, start=3):
        for side, name, symbol, color in (
            (1, "buy", "triangle-up", "#2ca02c"),
            (-1, "sell", "triangle-down", "#d62728"),
        ):
            group = [f for f in drawn if f.instrument_id == instrument_id and f.side == side]
            if not group:
                continue
            fig["data"].append(
                {
                    "type": "scatter",
                    "x": _dates(np.fromiter((f.ts_ns for f in group), np.int64, len(group))),
                    "y": np.fromiter((f.price for f in group), np.float64, len(group)),
                    "customdata": np.fromiter((f.quantity for f in group), np.float64, len(group)),
                    "text": [escape(name_of(f.strategy_id)) for f in group],
                    "mode": "markers",
                    "name": name,
                    "legendgroup": name,
                    "showlegend": side not in legend_done,
                    "marker": {"symbol": symbol, "color": color, "size": 9},
                    "hovertemplate": f"{name} %{{customdata:.10~g}} @ %{{y:.10~g}}<br>"
                    "%{text}<br>%{x}<extra></extra>",
                    **_axes(row),
                }
            )
            legend_done.add(side)
    return notes


def _metrics(metrics: Metrics, currency: str | None) -> str:
    values = metrics.model_dump()
    rows = []
    for name, value in values.items():
        label, fmt = METRIC_FORMATS.get(name, (name.replace("_", " ").capitalize(), _generic))
        rows.append([_th(label, title=name), _num(fmt(value))])
    note = f'<p class="note">Money in {escape(currency)}.</p>' if currency else ""
    return f'<h2>Metrics</h2>\n<div class="metrics">{_table(None, rows)}</div>\n{note}'


def _attribution(result: BacktestResult) -> str:
    """Per strategy, named as the registry version that ran (``id@version``)."""
    attribution = result.attribution
    if not attribution:
        return ""
    head = ["Strategy", "Instruments", "PnL", "Total return", "Sharpe", "Max drawdown"]
    head += ["Trades", "Win rate"]
    rows = [
        [
            f"<code>{escape(result.strategy_name(a.strategy_id))}</code>",
            escape(", ".join(a.instruments)),
            _num(_money(a.metrics.pnl)),
            _num(_pct(a.metrics.total_return)),
            _num(_ratio(a.metrics.sharpe)),
            _num(_pct(a.metrics.max_drawdown)),
            _num(_count(a.metrics.trade_count)),
            _num(_pct(a.metrics.win_rate)),
        ]
        for a in attribution
    ]
    return "<h2>Attribution by strategy</h2>\n" + _table(head, rows)


MAX_RISK_EVENTS = 200


def _risk(result: BacktestResult) -> str:
    """Every risk decision that was not a plain approve: counts by rule, then the first ones."""
    if not result.risk_events:
        return '<h2>Risk</h2>\n<p class="note">the risk gate approved every order as sent</p>'
    counts = [[_th(rule), _num(f"{count:,}")] for rule, count in result.risk_counts.items()]
    shown = result.risk_events[:MAX_RISK_EVENTS]
    rows = [
        [
            escape(_iso(e.ts_ns)),
            escape(e.kind.value),
            escape(e.scope),
            escape(e.instrument_id or "-"),
            escape(e.rule),
            escape(e.requested or "-"),
            escape(e.approved or "-"),
            escape(e.detail),
        ]
        for e in shown
    ]
    more = len(result.risk_events) - len(shown)
    note = f'<p class="note">{more:,} more events in result.json</p>' if more > 0 else ""
    head = ["time", "kind", "scope", "instrument", "rule", "requested", "approved", "detail"]
    if any(e.premium_at_risk for e in shown):  # a run holding options: what they can lose
        head.append("premium at risk")
        for row, e in zip(rows, shown, strict=True):
            row.append(escape(e.premium_at_risk or "-"))
    return "<h2>Risk</h2>\n" + _table(["rule", "events"], counts) + "\n" + _table(head, rows) + note


def _engine_refusals(result: BacktestResult) -> str:
    """Orders the engine itself rejected or denied: a warning, counts by reason, first times."""
    if not result.engine_rejections:
        return '<h2>Engine</h2>\n<p class="note">the engine rejected or denied no order</p>'
    rows = [
        [
            escape(r.kind),
            escape(r.reason),
            _num(f"{r.count:,}"),
            escape(", ".join(_iso(ts) for ts in r.first_ts)),
            escape(r.example),
        ]
        for r in result.engine_rejections
    ]
    warning = "".join(f'<p class="warning">{escape(line)}</p>' for line in result.warnings[:1])
    head = ["kind", "reason", "orders", "first times", "first reason in full"]
    return "<h2>Orders refused by the engine</h2>\n" + warning + _table(head, rows)


def _execution(result: BacktestResult) -> str:
    """Split fills against bar volume and their slippage (volume-limited liquidity)."""
    e = result.execution
    if e is None:
        return ""
    liquidity = ", ".join(
        f"{v}: {result.request.venue(v).liquidity.value}" for v in result.venue_names
    )
    rows = [
        [_th("Liquidity"), escape(liquidity)],
        [_th("Orders filled"), _num(f"{e.orders_filled:,}")],
        [_th("Orders filled in several parts"), _num(f"{e.split_orders:,}")],
        [_th("Later parts"), _num(f"{e.split_fills:,}")],
        [
            _th("Slippage against the first part", "side x (price - first price) x quantity"),
            _num(f"{e.slippage:,.2f} {_currency(result) or ''}".strip()),
        ],
    ]
    return "<h2>Execution</h2>\n" + _table(None, rows)


MAX_SIGNAL_TRACES = 200


def _signals(result: BacktestResult) -> str:
    """Signal -> decision -> fill: totals, then the first signals acted on."""
    p = result.provenance
    if p is None:
        return ""
    totals = [
        [_th("Signals replayed"), _num(f"{p.signals_replayed:,}")],
        [_th("Signals consumed by strategies"), _num(f"{p.signals_consumed:,}")],
        [_th("Signals acted on"), _num(f"{p.signals_acted_on:,}")],
        [
            _th("Orders on signals (approved / denied)"),
            _num(f"{p.orders:,} ({p.orders_approved:,} / {p.orders_denied:,})"),
        ],
        [
            _th("Fills on signals / without"),
            _num(f"{p.fills_on_signals:,} / {p.fills_without_signal:,}"),
        ],
    ]
    shown = p.traces[:MAX_SIGNAL_TRACES]
    rows = [
        [
            f'<code title="{escape(t.signal_id)}">{escape(t.signal_id[:8])}</code>',
            escape(_iso(t.ts_init)),
            escape(t.instrument_id),
            escape(t.signal_type),
            escape(t.source_model),
            f"<code>{escape(t.trace_id)}</code>",
            _num(f"{t.orders_approved:,} / {t.orders_denied:,}"),
            _num(f"{t.fills:,}"),
        ]
        for t in shown
    ]
    more = len(p.traces) - len(shown)
    note = f'<p class="note">{more:,} more signals in result.json</p>' if more > 0 else ""
    head = [
        "signal",
        "known at",
        "instrument",
        "type",
        "source",
        "trace",
        "orders ok/denied",
        "fills",
    ]
    return "<h2>Signals</h2>\n" + _table(None, totals) + "\n" + _table(head, rows) + note


def _facts(facts: EngineFacts) -> str:
    rows = [
        [_th("Engine"), escape(f"NautilusTrader {facts.nautilus_trader_version}")],
        [_th("quantdesk"), escape(facts.quantdesk_version)],
    ]
    for name, value in facts.model_dump().items():
        if name in ("nautilus_trader_version", "quantdesk_version"):
            continue
        label, fmt = FACT_FORMATS.get(name, (name.replace("_", " ").capitalize(), _generic))
        rows.append([_th(label, title=name), _num(fmt(value))])
    return "<h2>Engine</h2>\n" + _table(None, rows)


def _conversions(result: BacktestResult) -> str:
    """One line per rate series: which bars converted which instruments, and the rates."""
    return "<br>".join(
        f"{escape(c.currency)} &rarr; {escape(c.base_currency)} at <code>{escape(c.bar_type)}"
        f"</code>{' (inverted)' if c.inverted else ''} for {escape(', '.join(c.instruments))}: "
        f"{_count(c.points)} rates, {c.first_rate:.10g} .. {c.last_rate:.10g}, "
        f"{_count(c.fills)} fills"
        for c in result.conversions
    )


def _data_used(data: list[DataUsed]) -> str:
    if not data:
        return ""
    head = ["Series", "First (UTC)", "Last (UTC)", "Rows", "Catalog files", "Sources"]
    rows = [
        [
            f"<code>{escape(d.bar_type)}</code>"
            + ("" if d.is_bars else f" {escape(d.data_type.replace('_', ' '))}s")
            + ("" if d.is_streamed else f" ({escape(d.purpose)})"),
            escape(_iso(d.first_ts)),
            escape(_iso(d.last_ts)),
            _num(_count(d.bars)),
            _checksums(d.file_sha256),
            _checksums(d.source_sha256),
        ]
        for d in data
    ]
    note = (
        f'<p class="note">sha256 checksums, first {CHECKSUM_CHARS} characters '
        "(hover for the full value).</p>"
    )
    return "<h2>Data used</h2>\n" + _table(head, rows) + note


def _provenance(result: BacktestResult) -> str:
    return (
        "<h2>Fingerprint</h2>\n"
        f"<p><code>{escape(result.fingerprint)}</code></p>\n"
        '<p class="note">sha256 over the request (engine options and label aside), the data '
        "checksums and the versions: the same fingerprint gives the same fills.</p>\n"
        "<details><summary>Request</summary>\n"
        f"<pre>{escape(result.request.model_dump_json(indent=2))}</pre>\n</details>"
    )


# pieces --------------------------------------------------------------------------------------


def downsample(values: Float64Array, max_points: int = MAX_LINE_POINTS) -> Int64Array:
    """Indices of the points to draw: first, last and each bucket's lowest and highest."""
    n = int(values.shape[0])
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    buckets = max(max_points // 2, 1)
    size = -(-n // buckets)
    full = n // size
    head = values[: full * size].reshape(full, size)
    offsets = np.arange(full, dtype=np.int64) * size
    picks = [offsets + head.argmin(axis=1), offsets + head.argmax(axis=1), np.array([0, n - 1])]
    if full * size < n:
        tail = values[full * size :]
        picks.append(np.array([full * size + tail.argmin(), full * size + tail.argmax()]))
    indices: Int64Array = np.unique(np.concatenate(picks).astype(np.int64))
    return indices


def _dates(ts_ns: Int64Array) -> npt.NDArray[np.datetime64]:
    """Datetimes for the x axis, in the coarsest unit that loses nothing (shorter JSON)."""
    ts = np.asarray(ts_ns, dtype=np.int64)
    for unit, step in (("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)):
        if not (ts % step).any():
            return (ts // step).astype(f"datetime64[{unit}]")
    return ts.astype("datetime64[ns]")


def _iso(ns: int) -> str:
    return ns_to_iso(ns).replace(".000000000Z", "Z")


def _currency(result: BacktestResult) -> str | None:
    currencies = {result.request.venue(v).base_currency for v in result.venue_names}
    return currencies.pop() if len(currencies) == 1 else None


def _checksums(values: list[str]) -> str:
    return "<br>".join(
        f'<code title="{escape(v)}">{escape(v[:CHECKSUM_CHARS])}</code>' for v in values
    )


def _th(text: str, title: str | None = None) -> str:
    attr = f' title="{escape(title)}"' if title else ""
    return f"<th{attr}>{escape(text)}</th>"


def _num(text: str) -> str:
    return f'<td class="num">{escape(text)}</td>'


def _table(head: list[str] | None, rows: list[list[str]]) -> str:
    """Cells are HTML already (escaped by the caller); bare cells become ``<td>``."""
    parts = ["<table>"]
    if head:
        parts.append(
            "<thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr></thead>"
        )
    parts.append("<tbody>")
    for row in rows:
        cells = "".join(c if c.startswith(("<td", "<th")) else f"<td>{c}</td>" for c in row)
        parts.append(f"<tr>{cells}</tr>")
    parts.append("</tbody></table>")
    return "\n".join(parts)
