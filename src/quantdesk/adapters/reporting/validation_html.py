"""A validation run as one self-contained HTML page: the verdict first, then the evidence.

Order: the verdict and the version, policy and data it is about; the failed checks (what to
fix); the steps at a glance; then each step's section with its numbers and plots (periods and
regimes with the worst named, walk-forward windows and the stitched in-sample vs
out-of-sample equity, the overfitting statistics with the PBO logits, the stress table,
the Monte Carlo fan, baselines, risk compliance), each followed by its checks, value against
threshold. A step that did not run (its section None) says why instead.

plotly.js is inlined once, copied from plotly's own file as the backtest report does, and
only when there is a plot. Every piece of text from the report is escaped: strategy ids,
policy names, regimes, scenario names, parameters and details are user input.
"""

import io
from collections.abc import Callable, Sequence
from html import escape
from typing import TextIO

from quantdesk.adapters.reporting.html_report import _STYLE, Part, _write_plotlyjs
from quantdesk.adapters.reporting.validation_sections import (
    Figures,
    baselines,
    checks,
    compliance,
    fingerprint,
    mark,
    monte_carlo,
    number,
    overfitting,
    pairs,
    periods,
    stress,
    table,
    verdict_word,
    walk_forward,
    when,
)
from quantdesk.domain.validation.report import StepReport, ValidationReport, ValidationStep

TITLES = {
    ValidationStep.PERIODS: "Periods and regimes",
    ValidationStep.WALK_FORWARD: "Walk-forward analysis",
    ValidationStep.OVERFITTING: "Overfitting statistics",
    ValidationStep.STRESS: "Stress scenarios",
    ValidationStep.MONTE_CARLO: "Monte Carlo",
    ValidationStep.BASELINES: "Baselines and significance",
    ValidationStep.COMPLIANCE: "Risk compliance",
}

_EXTRA_STYLE = """
.verdict { display: inline-block; padding: 0.2rem 0.8rem; border-radius: 0.3rem;
           font-weight: 700; letter-spacing: 0.05em; }
.passed { background: #e3f9e5; color: #1b5e20; }
.failed { background: #ffe3e3; color: #8a1c1c; }
.ok { color: #1b5e20; font-weight: 600; }
.bad { color: #8a1c1c; font-weight: 600; }
tr.worst td { background: #fff4e5; }
"""


class HtmlValidationReportRenderer:
    """Renders a validation report's page; the same report always renders to the same bytes."""

    def render(self, report: ValidationReport) -> str:
        page = io.StringIO()
        self.write(report, page)
        return page.getvalue()

    def write(self, report: ValidationReport, out: TextIO) -> None:
        steps = {s.step: s for s in report.steps}
        figures = Figures()
        sections = [
            periods(report.periods),
            walk_forward(report.walk_forward, figures),
            overfitting(report.overfitting, figures),
            stress(report.stress),
            monte_carlo(report.monte_carlo, figures),
            baselines(report.baselines),
            compliance(report.compliance),
        ]
        body = [  # rendered first: plotly.js goes in only if a plot was drawn
            _section(step, steps.get(step), render)
            for step, render in zip(ValidationStep, sections, strict=True)
        ]
        parts: list[Part] = [
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>Validation {escape(report.ref)}: {verdict_word(report.passed)}</title>\n"
            f"<style>{_STYLE}{_EXTRA_STYLE}</style>\n</head>\n<body>",
            _header(report),
            _failed(report),
            _steps(report.steps),
        ]
        if figures.any:
            parts += [
                "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>\n<script>",
                _write_plotlyjs,
                "</script>",
            ]
        parts += body
        parts.append(
            f'<p class="note">quantdesk {escape(report.quantdesk_version)}, engine '
            f"{escape(report.engine_version)}</p>\n</body>\n</html>"
        )
        for part in parts:
            if isinstance(part, str):
                out.write(part)
            else:
                part(out)
            out.write("\n")


# page parts -----------------------------------------------------------------------------------


def _header(report: ValidationReport) -> str:
    css = "passed" if report.passed else "failed"
    rows = [
        (
            "Strategy",
            f"<code>{escape(report.ref)}</code>, content {fingerprint(report.content_hash)}",
        ),
        (
            "Policy",
            f"{escape(report.policy_name)} v{report.policy_version} "
            f"{fingerprint(report.policy_sha256)}",
        ),
        ("Period (UTC)", f"{when(report.start_ns)} → {when(report.end_ns)}"),
        ("Candidate run", fingerprint(report.candidate_fingerprint)),
        ("Trials run", number(report.trials_run)),
        ("Ran (UTC)", f"{when(report.started_at_ns)} → {when(report.finished_at_ns)}"),
        ("By", escape(report.actor)),
        ("Validation", f"<code>{escape(report.validation_id)}</code>"),
    ]
    warnings = "".join(f'<p class="warning">{escape(w)}</p>' for w in report.warnings)
    return (
        f"<h1>Validation of <code>{escape(report.ref)}</code> "
        f'<span class="verdict {css}">{verdict_word(report.passed)}</span></h1>'
        + pairs(rows)
        + warnings
    )


def _failed(report: ValidationReport) -> str:
    failed = report.failed_checks
    if not failed:
        return '<h2>Checks</h2><p class="ok">Every check passed.</p>'
    return f"<h2>Failed checks ({len(failed)})</h2>" + checks(failed)


def _steps(steps: Sequence[StepReport]) -> str:
    rows = [
        [
            escape(s.step.value),
            mark(s.passed),
            f"{sum(c.passed for c in s.checks)} / {len(s.checks)}",
            number(s.trials),
            f"{s.seconds:,.1f} s",
            escape(s.skipped or ""),
        ]
        for s in steps
    ]
    return "<h2>Steps</h2>" + table(
        ["Step", "", "Checks passed", "Trials", "Time", "Skipped"], rows
    )


def _section(
    step: ValidationStep, report: StepReport | None, render: Callable[[], str] | None
) -> str:
    title = TITLES.get(step, step.value)
    head = f'<h2 id="{step.value}">{escape(title)}</h2>'
    if render is None:
        reason = "not in this report" if report is None else report.skipped or "no section"
        body = f'<p class="note">This step did not run: {escape(reason)}.</p>'
    else:
        body = render()
    listed = "" if report is None else "<h3>Checks</h3>" + checks(report.checks)
    return head + body + listed
