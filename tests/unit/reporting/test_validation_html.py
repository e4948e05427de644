"""The validation report page: the verdict and failed checks first, every section with its
numbers and plots, skipped steps said so, and hostile labels escaped everywhere."""

import re

from quantdesk.adapters.reporting.validation_html import HtmlValidationReportRenderer
from quantdesk.domain.validation.report import (
    BaselinesSection,
    Check,
    ComplianceSection,
    MonteCarloSection,
    OverfittingSection,
    Percentiles,
    PeriodRow,
    PeriodsSection,
    RegimeRow,
    StepReport,
    StressRow,
    StressSection,
    ValidationReport,
    ValidationStep,
    WalkForwardSection,
    WindowRow,
)

HOSTILE = '<script>alert("x")</script>'
DAY = 86_400_000_000_000
T0 = 1_704_067_200_000_000_000


def check(name: str, step: ValidationStep, passed: bool, value: float | None) -> Check:
    return Check(
        name=name,
        step=step,
        passed=passed,
        value=value,
        threshold=0.5,
        comparison=">=",
        detail=f"detail of {name} {HOSTILE}",
    )


def series(n: int, start: float = 100.0, slope: float = 1.0) -> list[tuple[int, float]]:
    return [(T0 + i * DAY, start + slope * i) for i in range(n)]


def report(*, full: bool = True) -> ValidationReport:
    steps = [
        StepReport(
            step=step,
            passed=step is not ValidationStep.STRESS,
            checks=[check(f"{step.value}_check", step, step is not ValidationStep.STRESS, 0.7123)],
            trials=3,
            seconds=1.5,
            skipped=None if full else f"skipped {HOSTILE}",
        )
        for step in ValidationStep
    ]
    sections: dict[str, object] = {}
    if full:
        window = WindowRow(
            index=0,
            is_start_ns=T0,
            is_end_ns=T0 + 3 * DAY,
            oos_start_ns=T0 + 3 * DAY + 1,
            oos_end_ns=T0 + 4 * DAY,
            best_parameters={"fast_period": 5, HOSTILE: HOSTILE},
            is_trials=12,
            is_return=0.1,
            oos_return=0.02,
            is_sharpe=1.5,
            oos_sharpe=0.4,
            is_fingerprint="a" * 64,
            oos_fingerprint="b" * 64,
        )
        sections = {
            "periods": PeriodsSection(
                regime_source=HOSTILE,
                periods=[
                    PeriodRow(
                        index=i,
                        start_ns=T0 + i * DAY,
                        end_ns=T0 + (i + 1) * DAY - 1,
                        regime=HOSTILE if i == 1 else "calm",
                        total_return=0.01 * (1 - i),
                        sharpe=1.0 - i,
                        max_drawdown=-0.01 * i,
                        trades=4,
                        fingerprint="c" * 64,
                    )
                    for i in range(3)
                ],
                regimes=[
                    RegimeRow(
                        regime=HOSTILE,
                        periods=1,
                        mean_return=-0.02,
                        mean_sharpe=-1.0,
                        worst_drawdown=-0.05,
                    ),
                    RegimeRow(
                        regime="calm",
                        periods=2,
                        mean_return=0.01,
                        mean_sharpe=0.5,
                        worst_drawdown=-0.01,
                    ),
                ],
                worst_period=2,
                worst_regime=HOSTILE,
            ),
            "walk_forward": WalkForwardSection(
                mode="rolling",
                windows=[window, window.model_copy(update={"index": 1})],
                efficiency=0.2,
                oos_sharpe=0.4,
                oos_total_return=0.03,
                stitched_oos=series(5),
                stitched_is=series(5, slope=2.0),
            ),
            "overfitting": OverfittingSection(
                configurations=16,
                trials_counted=40,
                observations=250,
                sharpe=0.05,
                annual_sharpe=0.8,
                skewness=-0.2,
                kurtosis=4.1,
                sharpe_variance=0.001,
                expected_max_sharpe=0.09,
                probabilistic_sharpe=0.91,
                deflated_sharpe=0.3141,
                pbo=0.62,
                splits=28,
                logits=[-1.0, -0.5, 0.2, 1.3, -2.0],
                purged_observations=10,
                embargoed_observations=3,
            ),
            "stress": StressSection(
                scenarios=[
                    StressRow(
                        scenario=HOSTILE,
                        description=f"desc {HOSTILE}",
                        total_return=-0.31,
                        max_drawdown=-0.35,
                        loss=0.31,
                        risk_events=7,
                        kill_switch_fired=True,
                        drawdown_control_fired=True,
                        fingerprint="d" * 64,
                        passed=False,
                    ),
                    StressRow(
                        scenario="historical:covid_2020",
                        description="COVID crash",
                        total_return=None,
                        max_drawdown=None,
                        loss=None,
                        risk_events=0,
                        kill_switch_fired=False,
                        drawdown_control_fired=False,
                        fingerprint="",
                        passed=True,
                        skipped="the data does not cover it",
                    ),
                ],
                catalog_checksum_before="e" * 64,
                catalog_checksum_after="e" * 64,
            ),
            "monte_carlo": MonteCarloSection(
                samples=1000,
                seed=7,
                trades=30,
                days=20,
                trade_order_final_equity=Percentiles(p5=90, p25=95, p50=100, p75=105, p95=110),
                trade_order_max_drawdown=None,
                daily_final_equity=Percentiles(p5=91, p25=96, p50=101, p75=106, p95=111),
                daily_max_drawdown=Percentiles(p5=-0.2, p25=-0.1, p50=-0.05, p75=-0.03, p95=-0.01),
                fan={
                    p: series(5, slope=s)
                    for p, s in zip(("p5", "p25", "p50", "p75", "p95"), range(5), strict=True)
                },
            ),
            "baselines": BaselinesSection(
                strategy_return=0.05,
                buy_and_hold_return=0.04,
                random_entry_seeds=200,
                random_entry_mean_return=0.0,
                random_entry_p95_return=0.06,
                p_value_random_entry=0.12,
                p_value_bootstrap=0.2,
            ),
            "compliance": ComplianceSection(
                runs_checked=80,
                denial_storms=[f"stress-{HOSTILE}"],
                position_breaches=[],
                max_denial_ratio=0.75,
            ),
        }
    return ValidationReport.model_validate(
        {
            "validation_id": "val-1",
            "strategy_id": "ema-cross",
            "version": 3,
            "content_hash": "f" * 64,
            "policy_name": "default",
            "policy_version": 2,
            "policy_sha256": "1" * 64,
            "start_ns": T0,
            "end_ns": T0 + 20 * DAY,
            "passed": False,
            "steps": steps,
            **sections,
            "candidate_fingerprint": "2" * 64,
            "fingerprints": ["2" * 64],
            "trials_run": 99,
            "started_at_ns": T0 + 30 * DAY,
            "finished_at_ns": T0 + 30 * DAY + 10**10,
            "quantdesk_version": "0.0.test",
            "engine_version": "1.x",
            "actor": HOSTILE,
            "warnings": [f"warned {HOSTILE}"],
        }
    )


def render(value: ValidationReport) -> str:
    return HtmlValidationReportRenderer().render(value)


def test_every_section_renders_with_its_numbers_and_plots() -> None:
    page = render(report())
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "FAILED" in page.split("<body>", 1)[1][:2000]  # the verdict comes first
    failed = page.index("Failed checks (1)")
    assert failed < page.index('id="periods"') < page.index('id="stress"')
    assert "stress_check" in page[failed : page.index('id="periods"')]
    for text in (
        "Worst period: 2",
        "Walk-forward efficiency",
        "Deflated Sharpe P(SR &gt; SR0)",
        "0.3141",
        "31.00%",  # the stress loss
        "fast_period=5",
        "Trade order: final equity",
        "p-value by bootstrap",
        "Denied-order storms",
        "historical:covid_2020",
        "the data does not cover it",
        "unchanged",
        "0.7123",  # a check's value beside its threshold
    ):
        assert text in page, text
    plots = re.findall(r'id="validation-plot-(\d+)"', page)
    assert plots == ["1", "2", "3", "4"]  # windows, IS vs OOS, PBO logits, Monte Carlo fan
    assert page.count("window.PlotlyConfig") == 1 and len(page) > 1_000_000  # plotly inlined
    assert 'class="worst"' in page
    assert render(report()) == page  # deterministic


def test_hostile_labels_are_escaped_everywhere() -> None:
    page = render(report())
    assert HOSTILE not in page and 'alert("x")' not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    empty = render(report(full=False))
    assert HOSTILE not in empty and 'alert("x")' not in empty


def test_sections_none_say_why_and_inline_no_plotly() -> None:
    page = render(report(full=False))
    assert page.count("This step did not run: skipped &lt;script&gt;") == len(ValidationStep)
    assert "validation-plot-" not in page and "window.PlotlyConfig" not in page
    assert len(page) < 100_000
    bare = report(full=False).model_copy(update={"steps": [], "passed": True})
    text = render(bare)
    assert "Every check passed." in text and "PASSED" in text
    assert text.count("not in this report") == len(ValidationStep)
