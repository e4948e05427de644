"""The validation report's plots, as plain plotly figure dicts (rendered without validation).

Each function returns None when its section has nothing to draw, so the page shows a note
instead of an empty plot. Labels that come from the user (regime names, scenario names,
parameters) are escaped here: plotly renders trace names and hover text as HTML.
"""

from html import escape
from typing import Any

from quantdesk.domain.time import ns_to_text
from quantdesk.domain.validation.report import (
    MonteCarloSection,
    OverfittingSection,
    Series,
    WalkForwardSection,
)

Figure = dict[str, Any]
FAN_BANDS = (("p5", "p95", "rgba(62,124,177,0.15)"), ("p25", "p75", "rgba(62,124,177,0.30)"))


def _layout(title: str, height: int = 360, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": escape(title), "x": 0.01},
        "height": height,
        "margin": {"l": 60, "r": 20, "t": 50, "b": 40},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "hovermode": "closest",
        "legend": {"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
        **extra,
    }


def _xy(series: Series) -> tuple[list[str], list[float]]:
    return [ns_to_text(ts) for ts, _ in series], [value for _, value in series]


def _line(name: str, series: Series, **style: Any) -> dict[str, Any]:
    x, y = _xy(series)
    return {"type": "scatter", "mode": "lines", "name": escape(name), "x": x, "y": y, **style}


def walk_forward_windows(section: WalkForwardSection) -> Figure | None:
    """One row per window: its in-sample span and its out-of-sample span, side by side."""
    if not section.windows:
        return None
    traces: list[dict[str, Any]] = []
    for part, color in (("in-sample", "#9fb3c8"), ("out-of-sample", "#d64545")):
        x: list[str | None] = []
        y: list[str | None] = []
        for window in section.windows:
            start, end = (
                (window.is_start_ns, window.is_end_ns)
                if part == "in-sample"
                else (window.oos_start_ns, window.oos_end_ns)
            )
            label = f"window {window.index}"
            x += [ns_to_text(start), ns_to_text(end), None]
            y += [label, label, None]
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": part,
                "x": x,
                "y": y,
                "line": {"width": 12, "color": color},
            }
        )
    height = 160 + 34 * len(section.windows)
    return {
        "data": traces,
        "layout": _layout(
            f"Walk-forward windows ({section.mode})",
            height,
            yaxis={"autorange": "reversed", "type": "category"},
        ),
    }


def stitched_equity(section: WalkForwardSection) -> Figure | None:
    """The best in-sample trials' equity against the stitched out-of-sample equity."""
    if not section.stitched_oos and not section.stitched_is:
        return None
    data = [
        _line("in-sample (best trials)", section.stitched_is, line={"color": "#9fb3c8"}),
        _line("out-of-sample (stitched)", section.stitched_oos, line={"color": "#d64545"}),
    ]
    return {"data": data, "layout": _layout("In-sample vs out-of-sample equity")}


def pbo_logits(section: OverfittingSection) -> Figure | None:
    """The CPCV logits of the in-sample winner's out-of-sample rank; PBO is the share <= 0."""
    if not section.logits:
        return None
    data = [
        {
            "type": "histogram",
            "x": list(section.logits),
            "name": "logit",
            "marker": {"color": "#3e7cb1"},
            "nbinsx": min(40, max(5, len(section.logits) // 2)),
        }
    ]
    shapes = [
        {
            "type": "line",
            "x0": 0,
            "x1": 0,
            "yref": "paper",
            "y0": 0,
            "y1": 1,
            "line": {"color": "#d64545", "dash": "dash"},
        }
    ]
    return {
        "data": data,
        "layout": _layout(
            "PBO: logits of the in-sample winner's out-of-sample rank (<= 0: overfit)",
            320,
            shapes=shapes,
            xaxis={"title": {"text": "logit"}},
            yaxis={"title": {"text": "splits"}},
        ),
    }


def monte_carlo_fan(section: MonteCarloSection) -> Figure | None:
    """The daily bootstrap's equity percentiles: p5-p95 and p25-p75 bands around p50."""
    fan = section.fan
    if not fan:
        return None
    data: list[dict[str, Any]] = []
    for low, high, color in FAN_BANDS:
        if low in fan and high in fan:
            data.append(_line(low, fan[low], line={"width": 0}, showlegend=False))
            data.append(
                _line(
                    f"{low}-{high}",
                    fan[high],
                    line={"width": 0},
                    fill="tonexty",
                    fillcolor=color,
                )
            )
    if "p50" in fan:
        data.append(_line("median", fan["p50"], line={"color": "#1f2933"}))
    for name in sorted(set(fan) - {"p5", "p25", "p50", "p75", "p95"}):
        data.append(_line(name, fan[name]))
    return {
        "data": data,
        "layout": _layout(f"Monte Carlo: daily bootstrap, {section.samples:,} paths"),
    }
