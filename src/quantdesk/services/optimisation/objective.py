"""Objective values: one number per trial, from its metrics, that a study maximises.

A run without the number (no trades, no variance: Sharpe is None) has no value and its trial
fails with that reason; it is never scored 0, which would rank "did nothing" above losses.
A custom objective is a linear combination of Metrics fields named in the space file: data,
not code, so nothing a user writes is evaluated.
"""

import math
from collections.abc import Mapping

from pydantic import ValidationError

from quantdesk.domain.backtest import Metrics
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.optimisation.study import Objective, ObjectiveKind

_FIELD = {
    ObjectiveKind.SHARPE: "sharpe",
    ObjectiveKind.SORTINO: "sortino",
    ObjectiveKind.CALMAR: "calmar",
    ObjectiveKind.RETURN: "total_return",
}


def objective_value(metrics: Metrics | None, objective: Objective) -> float | None:
    """The value to maximise, or None when a metric it needs has none (or is not finite)."""
    if metrics is None:
        return None
    if objective.kind is ObjectiveKind.CUSTOM:
        total = 0.0
        for name, weight in sorted(objective.weights.items()):
            value = _number(getattr(metrics, name))
            if value is None:
                return None
            total += weight * value
        return total if math.isfinite(total) else None
    return _number(getattr(metrics, _FIELD[objective.kind]))


def missing_reason(metrics: Metrics | None, objective: Objective) -> str:
    """Why ``objective_value`` gave None, in words (the trial's fail reason)."""
    if metrics is None:
        return "the run produced no metrics"
    custom = objective.kind is ObjectiveKind.CUSTOM
    names = sorted(objective.weights) if custom else [_FIELD[objective.kind]]
    empty = [name for name in names if _number(getattr(metrics, name)) is None]
    trades = "" if metrics.trade_count else " (no trades)"
    return f"no value for {', '.join(empty) or objective.describe()}{trades}"


def _number(value: object) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def objective_of(kind: str, weights: Mapping[str, float] | None = None) -> Objective:
    """An objective from its name (and a custom one's weights), refused by code when wrong."""
    allowed = ", ".join(k.value for k in ObjectiveKind)
    if kind not in {k.value for k in ObjectiveKind}:
        raise InvalidInputError(
            f"{kind!r} is not an objective; allowed: {allowed}",
            code="invalid_objective",
            data={"objective": kind[:50]},
        )
    chosen = ObjectiveKind(kind)
    custom = chosen is ObjectiveKind.CUSTOM
    if custom and not weights:
        raise InvalidInputError(
            "the custom objective needs weights over metrics (objective: weights: in the "
            "space file)",
            hint="e.g. objective: {weights: {sharpe: 1.0, max_drawdown: 2.0}}",
            code="custom_objective_weights",
        )
    try:
        return Objective(kind=chosen, weights=dict(weights or {}) if custom else {})
    except ValidationError as error:
        message = error.errors()[0]["msg"].removeprefix("Value error, ")
        raise InvalidInputError(message, code="invalid_objective") from None
