"""The validation page's building blocks: escaped text, tables, checks, plots, and one
renderer per step's section (``None`` when the step has no section: the page says why).

Every cell is escaped where it is made; plots go through ``Figures`` so the page knows
whether to inline plotly.js.
"""

import math
from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from quantdesk.adapters.reporting import validation_charts as charts
from quantdesk.domain.time import ns_to_text
from quantdesk.domain.validation.report import (
    BaselinesSection,
    Check,
    ComplianceSection,
    MonteCarloSection,
    OverfittingSection,
    Percentiles,
    PeriodsSection,
    StressSection,
    WalkForwardSection,
)

FINGERPRINT_CHARS = 12
ROWS_MAX = 200  # per table (the JSON beside the page has every row)

Figure = dict[str, Any]
Render = Callable[[], str] | None


class Figures:
    """Collects the page's plots so plotly.js is written only when one exists."""

    def __init__(self) -> None:
        self._count = 0

    @property
    def any(self) -> bool:
        return self._count > 0

    def html(self, figure: Figure | None) -> str:
        if figure is None:
            return ""
        import plotly.io

        self._count += 1
        return str(
            plotly.io.to_html(
                figure,
                validate=False,
                full_html=False,
                include_plotlyjs=False,
                div_id=f"validation-plot-{self._count}",
                config={"displaylogo": False, "responsive": True},
            )
        )


# text -----------------------------------------------------------------------------------------


def number(value: float | int | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.4g}"


def pct(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value * 100:,.2f}%"


def when(ns: int) -> str:
    return escape(ns_to_text(ns))


def verdict_word(passed: bool) -> str:
    return "PASSED" if passed else "FAILED"


def mark(passed: bool) -> str:
    return '<span class="ok">pass</span>' if passed else '<span class="bad">FAIL</span>'


def yes(flag: bool) -> str:
    return '<span class="bad">yes</span>' if flag else "no"


def fingerprint(value: str) -> str:
    if not value:
        return "-"
    return f'<code title="{escape(value)}">{escape(value[:FINGERPRINT_CHARS])}</code>'


def table(head: Sequence[str], rows: Sequence[Sequence[str]], classes: Sequence[str] = ()) -> str:
    """Cells are HTML already (escaped by the callers); head cells are escaped here."""
    shown = rows[:ROWS_MAX]
    parts = ["<table><thead><tr>", *(f"<th>{escape(h)}</th>" for h in head), "</tr></thead>"]
    parts.append("<tbody>")
    for index, row in enumerate(shown):
        css = classes[index] if index < len(classes) else ""
        attr = f' class="{css}"' if css else ""
        parts.append(f"<tr{attr}>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
    parts.append("</tbody></table>")
    if len(rows) > ROWS_MAX:
        parts.append(f'<p class="note">First {ROWS_MAX} of {len(rows):,} rows.</p>')
    return "".join(parts)


def pairs(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{escape(label)}</th><td>{cell}</td></tr>" for label, cell in rows)
    return f"<table>{body}</table>"


def checks(listed: Sequence[Check]) -> str:
    if not listed:
        return '<p class="note">No check of this step is switched on by the policy.</p>'
    rows = [
        [
            mark(c.passed),
            f"<code>{escape(c.name)}</code>",
            escape(c.step.value),
            number(c.value),
            escape(c.comparison),
            number(c.threshold),
            escape(c.detail),
        ]
        for c in listed
    ]
    return table(["", "Check", "Step", "Value", "", "Threshold", "Detail"], rows)


def periods(section: PeriodsSection | None) -> Render:
    if section is None:
        return None

    def render() -> str:
        rows = [
            [
                number(p.index),
                f"{when(p.start_ns)} → {when(p.end_ns)}",
                escape(p.regime),
                pct(p.total_return),
                number(p.sharpe),
                pct(p.max_drawdown),
                number(p.trades),
                fingerprint(p.fingerprint),
                escape(p.error or ""),
            ]
            for p in section.periods
        ]
        classes = ["worst" if p.index == section.worst_period else "" for p in section.periods]
        regimes = [
            [
                escape(r.regime),
                number(r.periods),
                pct(r.mean_return),
                number(r.mean_sharpe),
                pct(r.worst_drawdown),
            ]
            for r in section.regimes
        ]
        regime_classes = [
            "worst" if r.regime == section.worst_regime else "" for r in section.regimes
        ]
        worst = (
            f"Worst period: {number(section.worst_period)}; worst regime: "
            f"<strong>{escape(section.worst_regime or 'n/a')}</strong> "
            f"(regimes from {escape(section.regime_source)})."
        )
        return (
            f"<p>{worst}</p>"
            + table(
                [
                    "#",
                    "Period (UTC)",
                    "Regime",
                    "Return",
                    "Sharpe",
                    "Max DD",
                    "Trades",
                    "Run",
                    "Error",
                ],
                rows,
                classes,
            )
            + "<h3>By regime</h3>"
            + table(
                ["Regime", "Periods", "Mean return", "Mean Sharpe", "Worst DD"],
                regimes,
                regime_classes,
            )
        )

    return render


def _parameters(values: dict[str, Any]) -> str:
    return escape(", ".join(f"{k}={v}" for k, v in sorted(values.items())))


def walk_forward(section: WalkForwardSection | None, figures: Figures) -> Render:
    if section is None:
        return None

    def render() -> str:
        summary = pairs(
            [
                ("Mode", escape(section.mode)),
                ("Walk-forward efficiency", number(section.efficiency)),
                ("Stitched OOS Sharpe", number(section.oos_sharpe)),
                ("Stitched OOS return", pct(section.oos_total_return)),
            ]
        )
        rows = [
            [
                number(w.index),
                f"{when(w.is_start_ns)} → {when(w.is_end_ns)}",
                f"{when(w.oos_start_ns)} → {when(w.oos_end_ns)}",
                _parameters(w.best_parameters),
                number(w.is_trials),
                pct(w.is_return),
                pct(w.oos_return),
                number(w.is_sharpe),
                number(w.oos_sharpe),
                fingerprint(w.oos_fingerprint),
            ]
            for w in section.windows
        ]
        head = ["#", "In-sample", "Out-of-sample", "Best parameters", "IS trials",
                "IS CAGR", "OOS CAGR", "IS Sharpe", "OOS Sharpe", "OOS run"]  # fmt: skip
        return (
            summary
            + figures.html(charts.walk_forward_windows(section))
            + figures.html(charts.stitched_equity(section))
            + table(head, rows)
        )

    return render


def overfitting(section: OverfittingSection | None, figures: Figures) -> Render:
    if section is None:
        return None

    def render() -> str:
        numbers = pairs(
            [
                ("Configurations run", number(section.configurations)),
                ("Trials counted (N of the deflated Sharpe)", number(section.trials_counted)),
                ("Daily observations", number(section.observations)),
                ("Sharpe per observation", number(section.sharpe)),
                ("Annual Sharpe", number(section.annual_sharpe)),
                ("Skewness", number(section.skewness)),
                ("Kurtosis (3 = normal)", number(section.kurtosis)),
                ("Variance of the trials' Sharpe", number(section.sharpe_variance)),
                ("Expected max Sharpe of N (SR0)", number(section.expected_max_sharpe)),
                ("Probabilistic Sharpe P(SR > 0)", number(section.probabilistic_sharpe)),
                ("Deflated Sharpe P(SR > SR0)", number(section.deflated_sharpe)),
                ("PBO", number(section.pbo)),
                ("CPCV splits", number(section.splits)),
                ("Purged / embargoed observations",
                 f"{number(section.purged_observations)} / "
                 f"{number(section.embargoed_observations)}"),
            ]
        )  # fmt: skip
        return numbers + figures.html(charts.pbo_logits(section))

    return render


def stress(section: StressSection | None) -> Render:
    if section is None:
        return None

    def render() -> str:
        rows = [
            [
                mark(r.passed) if not r.skipped or not r.passed else "skipped",
                f"<code>{escape(r.scenario)}</code>",
                escape(r.description),
                pct(r.total_return),
                pct(r.max_drawdown),
                pct(r.loss),
                number(r.risk_events),
                yes(r.kill_switch_fired),
                yes(r.drawdown_control_fired),
                fingerprint(r.fingerprint),
                escape(r.skipped or ""),
            ]
            for r in section.scenarios
        ]
        head = ["", "Scenario", "What", "Return", "Max DD", "Loss", "Risk events",
                "Kill switch", "Drawdown control", "Run", "Skipped"]  # fmt: skip
        same = section.catalog_checksum_before == section.catalog_checksum_after
        note = (
            f'<p class="{"ok" if same else "bad"}">Real catalog checksum before '
            f"{fingerprint(section.catalog_checksum_before)}, after "
            f"{fingerprint(section.catalog_checksum_after)}: "
            f"{'unchanged' if same else 'CHANGED'}.</p>"
        )
        return table(head, rows) + note

    return render


def _percentiles(label: str, value: Percentiles | None, fmt: Callable[[float], str]) -> list[str]:
    if value is None:
        return [escape(label), *["n/a"] * 5]
    return [
        escape(label),
        *(fmt(v) for v in (value.p5, value.p25, value.p50, value.p75, value.p95)),
    ]


def monte_carlo(section: MonteCarloSection | None, figures: Figures) -> Render:
    if section is None:
        return None

    def render() -> str:
        rows = [
            _percentiles("Trade order: final equity", section.trade_order_final_equity, number),
            _percentiles("Trade order: max drawdown", section.trade_order_max_drawdown, pct),
            _percentiles("Daily returns: final equity", section.daily_final_equity, number),
            _percentiles("Daily returns: max drawdown", section.daily_max_drawdown, pct),
        ]
        intro = (
            f"<p>{number(section.samples)} samples, seed {section.seed}, over "
            f"{number(section.trades)} trades and {number(section.days)} days.</p>"
        )
        shown = table(["Distribution", "p5", "p25", "p50", "p75", "p95"], rows)
        return intro + shown + figures.html(charts.monte_carlo_fan(section))

    return render


def baselines(section: BaselinesSection | None) -> Render:
    if section is None:
        return None

    def render() -> str:
        return pairs(
            [
                ("Strategy return", pct(section.strategy_return)),
                ("Buy and hold return", pct(section.buy_and_hold_return)),
                ("Random entries (seeds)", number(section.random_entry_seeds)),
                ("Random entries: mean return", pct(section.random_entry_mean_return)),
                ("Random entries: 95th percentile", pct(section.random_entry_p95_return)),
                ("p-value vs random entries", number(section.p_value_random_entry)),
                ("p-value by bootstrap", number(section.p_value_bootstrap)),
            ]
        )

    return render


def compliance(section: ComplianceSection | None) -> Render:
    if section is None:
        return None

    def render() -> str:
        def listed(items: list[str]) -> str:
            if not items:
                return "none"
            shown = "".join(f"<li>{escape(i)}</li>" for i in items[:ROWS_MAX])
            more = f"<li>… {len(items) - ROWS_MAX:,} more</li>" if len(items) > ROWS_MAX else ""
            return f"<ul>{shown}{more}</ul>"

        return pairs(
            [
                ("Runs checked", number(section.runs_checked)),
                ("Largest denied / sent ratio", number(section.max_denial_ratio)),
                ("Denied-order storms", listed(section.denial_storms)),
                ("Position-limit breaches", listed(section.position_breaches)),
            ]
        )

    return render
