"""A study's report as one self-contained HTML page: what was searched, what won, and why.

Sections: the study (reference, objective, sampler, seed, space digest, period), the best
trial and the version registered from it, the re-runs of the best trials (each must
reproduce its trial's fingerprint: a mismatch is flagged, never hidden), the parameter
importance as bars, a parallel-coordinates plot of every complete trial and a contour of
the objective over the two most important parameters, the screen that ranked the grid (when
``--screen``), and the ranked table of trials with their fingerprints.

plotly.js is inlined once (copied from plotly's own file, as the backtest report does) and
only when a plot is drawn; figures are plain dicts rendered without validation. Every piece
of text from the study is escaped: names, parameters and reasons are user input. Zero or one
trial gives a page that says so instead of empty plots.
"""

import io
import math
from collections.abc import Sequence
from html import escape
from typing import Any, TextIO

from quantdesk.adapters.reporting.html_report import _STYLE, Part, _write_plotlyjs
from quantdesk.domain.optimisation.space import ParamValue, SearchSpace
from quantdesk.domain.optimisation.study import StudyReport, StudyTrial, TrialState
from quantdesk.domain.time import ns_to_iso

TABLE_ROWS_MAX = 500  # ranked trials listed (the JSON beside the page has them all)
FINGERPRINT_CHARS = 12
LEADERS_MAX = 20

_EXTRA_STYLE = """
.bar { background: #3e7cb1; height: 0.9rem; display: inline-block; vertical-align: middle; }
.bars td { padding: 0.15rem 0.75rem; }
.ok { color: #1b5e20; font-weight: 600; }
.bad { color: #8a1c1c; font-weight: 600; }
tr.best td { background: #f0f7ff; }
"""


class HtmlOptimisationReportRenderer:
    """Renders a study's page; the same report always renders to the same bytes."""

    def render(self, report: StudyReport) -> str:
        page = io.StringIO()
        self.write(report, page)
        return page.getvalue()

    def write(self, report: StudyReport, out: TextIO) -> None:
        plots = _plots(report)
        parts: list[Part] = [
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>Study {escape(report.study_name)}</title>\n"
            f"<style>{_STYLE}{_EXTRA_STYLE}</style>\n</head>\n<body>",
            _header(report),
            _best(report),
            _reruns(report),
            _importance(report),
            *plots,
            _screened(report),
            _ranked(report),
            "</body>\n</html>",
        ]
        for part in parts:
            if isinstance(part, str):
                out.write(part)
            else:
                part(out)
            out.write("\n")


# text -----------------------------------------------------------------------------------------


def _number(value: float | int | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.6g}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value * 100:,.2f}%"


def _param_text(value: ParamValue) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def _iso(ns: int | None) -> str:
    return "-" if ns is None else ns_to_iso(ns)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], classes: Sequence[str] = ()) -> str:
    """Cells are HTML already (escaped here by the callers); head cells are escaped."""
    parts = ["<table><thead><tr>", *(f"<th>{escape(h)}</th>" for h in head), "</tr></thead>"]
    parts.append("<tbody>")
    for index, row in enumerate(rows):
        css = classes[index] if index < len(classes) and classes[index] else ""
        attr = f' class="{css}"' if css else ""
        parts.append(f"<tr{attr}>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _fingerprint(value: str) -> str:
    if not value:
        return "-"
    return f'<code title="{escape(value)}">{escape(value[:FINGERPRINT_CHARS])}</code>'


# sections -------------------------------------------------------------------------------------


def _header(report: StudyReport) -> str:
    counts: dict[TrialState, int] = {}
    for trial in report.trials:
        counts[trial.state] = counts.get(trial.state, 0) + 1
    states = ", ".join(f"{n} {state.value}" for state, n in sorted(counts.items())) or "none"
    rows = [
        ["Strategy", f"<code>{escape(report.ref)}</code>"],
        ["Objective", escape(report.objective.describe()) + " (maximised)"],
        ["Sampler", f"{escape(report.sampler.value)}, seed {report.seed}"],
        ["Trials", f"{len(report.trials)} of {report.trials_requested} asked ({escape(states)})"],
        ["Space", escape(_space_text(report.space))],
        ["Space digest", _fingerprint(report.space_sha256)],
        ["Period (UTC)", f"{escape(_iso(report.start_ns))} → {escape(_iso(report.end_ns))}"],
        [
            "Ran (UTC)",
            f"{escape(_iso(report.started_ns))} → {escape(_iso(report.finished_ns))}"
            + (" (resumed)" if report.resumed else ""),
        ],
        ["Registered", _registered(report)],
    ]
    body = "".join(f"<tr><th>{label}</th><td>{cell}</td></tr>" for label, cell in rows)
    return (
        f"<h1>Study <code>{escape(report.study_name)}</code></h1>\n"
        f"<table><tbody>{body}</tbody></table>"
    )


def _space_text(space: SearchSpace) -> str:
    parts = []
    for p in space.parameters:
        if p.kind == "categorical":
            parts.append(f"{p.name} ∈ {{{', '.join(_param_text(c) for c in p.choices)}}}")
        else:
            step = f" step {p.step:g}" if p.step is not None else (" log" if p.log else "")
            parts.append(f"{p.name} {p.kind} [{p.low:g}, {p.high:g}]{step}")
    return "; ".join(parts)


def _registered(report: StudyReport) -> str:
    if report.registered_ref:
        return f'<code class="ok">{escape(report.registered_ref)}</code> (from the best trial)'
    return "no version registered"


def _best(report: StudyReport) -> str:
    best = report.best
    if best is None:
        why = "no trials ran" if not report.trials else "no trial has an objective value"
        return f'<h2>Best trial</h2>\n<p class="warning">None: {escape(why)}.</p>'
    params = ", ".join(f"{escape(k)}={escape(_param_text(v))}" for k, v in best.params.items())
    metrics = best.metrics
    extra = (
        ""
        if metrics is None
        else f"; Sharpe {_number(metrics.sharpe)}, return {_pct(metrics.total_return)}, "
        f"max drawdown {_pct(metrics.max_drawdown)}, {metrics.trade_count:,} trades"
    )
    return (
        "<h2>Best trial</h2>\n"
        f"<p>Trial {best.number}: {escape(report.objective.describe())} = "
        f"{_number(best.value)}{extra}.</p>\n<p><code>{params}</code></p>"
    )


def _reruns(report: StudyReport) -> str:
    if not report.reruns:
        return '<h2>Re-runs</h2>\n<p class="note">No trial was re-run.</p>'
    rows = [
        [
            str(r.number),
            f"<code>{escape(r.run_id)}</code>",
            _fingerprint(r.fingerprint),
            _number(r.value),
            '<span class="ok">matched</span>' if r.matched else '<span class="bad">DIFFERS</span>',
        ]
        for r in report.reruns
    ]
    failed = sum(1 for r in report.reruns if not r.matched)
    note = (
        f'<p class="bad">{failed} re-run(s) did not reproduce their trial.</p>'
        if failed
        else '<p class="note">Every re-run reproduced its trial\'s fingerprint.</p>'
    )
    head = ["Trial", "Run", "Fingerprint", "Value", "Reproduced"]
    return "<h2>Re-runs of the best trials</h2>\n" + _table(head, rows) + note


def _importance(report: StudyReport) -> str:
    if not report.importance:
        why = report.importance_note or "not computed"
        return f'<h2>Parameter importance</h2>\n<p class="note">{escape(why)}</p>'
    ranked = sorted(report.importance.items(), key=lambda item: (-item[1], item[0]))
    top = max((v for _, v in ranked), default=0.0) or 1.0
    rows = "".join(
        f'<tr><td><code>{escape(name)}</code></td><td class="num">{value:.3f}</td>'
        f'<td><span class="bar" style="width:{max(0.0, value / top) * 20:.2f}rem"></span></td>'
        "</tr>"
        for name, value in ranked
    )
    return f'<h2>Parameter importance</h2>\n<table class="bars"><tbody>{rows}</tbody></table>'


def _screened(report: StudyReport) -> str:
    summary = report.screened
    if summary is None:
        return ""
    rows = [
        [
            str(i + 1),
            _number(c.value),
            escape(", ".join(f"{k}={_param_text(v)}" for k, v in c.params.items())),
        ]
        for i, c in enumerate(summary.leaders[:LEADERS_MAX])
    ]
    return (
        "<h2>Vectorised screen</h2>\n"
        f"<p>{summary.candidates:,} grid points screened in {summary.wall_seconds:,.2f} s "
        "(close-to-close estimate, decisions equal to the engine's); the best "
        f"{summary.confirmed:,} confirmed event-driven as the study's first trials.</p>\n"
        + (_table(["#", "Screen value", "Parameters"], rows) if rows else "")
    )


def _ranked(report: StudyReport) -> str:
    trials = report.ranked()
    if not trials:
        return '<h2>Trials</h2>\n<p class="note">No trials.</p>'
    names = _param_names(report)
    head = ["Rank", "Trial", "Value", "State", *names, "Trades", "Fingerprint", "Reason"]
    rows, classes = [], []
    for rank, trial in enumerate(trials[:TABLE_ROWS_MAX], start=1):
        rows.append(
            [
                str(rank) if trial.value is not None else "-",
                str(trial.number),
                _number(trial.value),
                escape(trial.state.value),
                *(escape(_param_text(trial.params.get(n))) for n in names),
                _number(trial.metrics.trade_count) if trial.metrics else "-",
                _fingerprint(trial.fingerprint),
                escape(trial.reason or ""),
            ]
        )
        classes.append("best" if trial.number == report.best_number else "")
    more = len(trials) - TABLE_ROWS_MAX
    note = f'<p class="note">{more:,} more trials in the JSON report.</p>' if more > 0 else ""
    return "<h2>Trials, best first</h2>\n" + _table(head, rows, classes) + note


def _param_names(report: StudyReport) -> list[str]:
    names = report.space.names()
    for trial in report.trials:
        names.extend(n for n in trial.params if n not in names)
    return names


# plots ----------------------------------------------------------------------------------------


def _plots(report: StudyReport) -> list[Part]:
    complete = [t for t in report.trials if t.value is not None]
    names = [n for n in _param_names(report) if len({_key(t.params.get(n)) for t in complete}) > 1]
    if len(complete) < 2 or not names:
        return [
            '<h2>Plots</h2>\n<p class="note">Parallel-coordinate and contour plots need at '
            "least two complete trials that differ in a parameter.</p>"
        ]
    import plotly.io

    def html(figure: dict[str, Any], div: str) -> str:
        return str(
            plotly.io.to_html(
                figure,
                validate=False,
                full_html=False,
                include_plotlyjs=False,
                div_id=div,
                config={"displaylogo": False, "responsive": True},
            )
        )

    parts: list[Part] = [
        "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>\n<script>",
        _write_plotlyjs,
        "</script>",
        "<h2>Parallel coordinates</h2>",
        html(_parallel(report, complete, names), "parallel-coordinates"),
    ]
    pair = _top_two(report, names)
    if pair is None:
        parts.append('<p class="note">A contour needs two parameters that vary.</p>')
    else:
        parts.append(
            f"<h2>Contour: <code>{escape(pair[0])}</code> by <code>{escape(pair[1])}</code></h2>"
        )
        parts.append(html(_contour(report, complete, pair), "contour"))
    return parts


def _key(value: ParamValue) -> str:
    return repr(value)


def _axis(trials: Sequence[StudyTrial], name: str) -> tuple[list[float], dict[str, Any]]:
    """Values of ``name`` as numbers for plotting; categories become 0..k-1 with labels."""
    values = [t.params.get(name) for t in trials]
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return [float(v) for v in values], {}  # type: ignore[arg-type]
    labels = sorted({_param_text(v) for v in values})
    index = {label: i for i, label in enumerate(labels)}
    return [float(index[_param_text(v)]) for v in values], {
        "tickvals": list(range(len(labels))),
        "ticktext": [escape(label) for label in labels],
    }


def _parallel(
    report: StudyReport, complete: Sequence[StudyTrial], names: Sequence[str]
) -> dict[str, Any]:
    values = [float(t.value or 0.0) for t in complete]
    dimensions = []
    for name in names:
        axis, ticks = _axis(complete, name)
        dimensions.append({"label": escape(name), "values": axis, **ticks})
    objective = escape(report.objective.describe())
    dimensions.append({"label": objective, "values": values})
    return {
        "data": [
            {
                "type": "parcoords",
                "line": {"color": values, "colorscale": "Viridis", "showscale": True},
                "dimensions": dimensions,
            }
        ],
        "layout": {"height": 460, "margin": {"l": 60, "r": 60, "t": 60, "b": 30}},
    }


def _top_two(report: StudyReport, names: Sequence[str]) -> tuple[str, str] | None:
    """The two most important varying parameters (importance first, then space order)."""
    order = {name: i for i, name in enumerate(names)}
    ranked = sorted(names, key=lambda n: (-report.importance.get(n, -1.0), order[n]))
    return (ranked[0], ranked[1]) if len(ranked) >= 2 else None


def _contour(
    report: StudyReport, complete: Sequence[StudyTrial], pair: tuple[str, str]
) -> dict[str, Any]:
    x, x_ticks = _axis(complete, pair[0])
    y, y_ticks = _axis(complete, pair[1])
    z = [float(t.value or 0.0) for t in complete]
    objective = escape(report.objective.describe())
    return {
        "data": [
            {
                "type": "contour",
                "x": x,
                "y": y,
                "z": z,
                "colorscale": "Viridis",
                "connectgaps": True,
                "colorbar": {"title": {"text": objective}},
            },
            {
                "type": "scatter",
                "mode": "markers",
                "x": x,
                "y": y,
                "text": [f"trial {t.number}: {_number(t.value)}" for t in complete],
                "hoverinfo": "text",
                "marker": {"color": "white", "size": 6, "line": {"color": "black", "width": 1}},
                "showlegend": False,
            },
        ],
        "layout": {
            "height": 480,
            "xaxis": {"title": {"text": escape(pair[0])}, **x_ticks},
            "yaxis": {"title": {"text": escape(pair[1])}, **y_ticks},
            "margin": {"l": 70, "r": 30, "t": 30, "b": 60},
        },
    }
