"""Policy thresholds applied: one number against one limit makes one :class:`Check`.

A threshold of ``None`` switches its check off (the step still reports its numbers). A set
threshold whose number could not be computed (no trades, no variance, a skipped step) is a
failing check with the reason in ``detail``: a version is never waved through because the
evidence is missing. A step passes when every check of it does and it was not skipped.
"""

from collections.abc import Sequence
from typing import Literal

from quantdesk.domain.validation.report import Check, StepReport, ValidationStep


def _check(
    name: str,
    step: ValidationStep,
    value: float | None,
    threshold: float | None,
    comparison: Literal[">=", "<=", "=="],
    detail: str,
) -> list[Check]:
    if threshold is None:
        return []
    if value is None:
        passed = False
        detail = detail or "no value: the step could not compute it"
    elif comparison == ">=":
        passed = value >= threshold
    elif comparison == "<=":
        passed = value <= threshold
    else:
        passed = value == threshold
    return [
        Check(
            name=name,
            step=step,
            passed=passed,
            value=value,
            threshold=float(threshold),
            comparison=comparison,
            detail=detail,
        )
    ]


def at_least(
    name: str,
    step: ValidationStep,
    value: float | None,
    threshold: float | None,
    detail: str = "",
) -> list[Check]:
    """``value >= threshold`` (no check when the threshold is None)."""
    return _check(name, step, value, threshold, ">=", detail)


def at_most(
    name: str,
    step: ValidationStep,
    value: float | None,
    threshold: float | None,
    detail: str = "",
) -> list[Check]:
    """``value <= threshold`` (no check when the threshold is None)."""
    return _check(name, step, value, threshold, "<=", detail)


def loss_at_most(
    name: str,
    step: ValidationStep,
    drawdown: float | None,
    threshold: float | None,
    detail: str = "",
) -> list[Check]:
    """A (negative) drawdown or return against a positive loss limit: ``-value <= limit``."""
    loss = None if drawdown is None else max(0.0, -drawdown)
    return _check(name, step, loss, threshold, "<=", detail)


def skipped_check(step: ValidationStep, reason: str) -> Check:
    """The failing check a skipped step carries: no evidence, no pass."""
    return Check(
        name=f"{step.value}_ran",
        step=step,
        passed=False,
        value=None,
        threshold=None,
        comparison="==",
        detail=f"skipped: {reason}",
    )


def step_report(
    step: ValidationStep,
    checks: Sequence[Check],
    *,
    trials: int = 0,
    seconds: float = 0.0,
    skipped: str | None = None,
) -> StepReport:
    """A step's report; passed iff it ran and every check passed."""
    listed = list(checks)
    if skipped is not None:
        listed.append(skipped_check(step, skipped))
    return StepReport(
        step=step,
        passed=skipped is None and all(c.passed for c in listed),
        checks=listed,
        trials=trials,
        seconds=round(seconds, 6),
        skipped=skipped,
    )
