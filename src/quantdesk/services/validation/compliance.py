"""Risk compliance: the strategy's own constraints held in every run this validation made.

Two breaches are counted over every trial (periods, walk-forward, configurations, stress):
a *denied-order storm* (the risk layer denied more than ``max_denial_ratio`` of the orders
the strategy sent: it keeps asking for what it may not have), and a *position breach* (the
fills reached a larger absolute position than the definition's ``risk.max_position``: the
limit did not hold). Stress scenarios count too: a crash is exactly when limits matter.
"""

from collections.abc import Sequence
from decimal import Decimal

from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.trials import TrialOutcome
from quantdesk.domain.validation.policy import Thresholds
from quantdesk.domain.validation.report import Check, ComplianceSection, ValidationStep
from quantdesk.services.validation.checks import at_most

_TOLERANCE = 1e-9


def denial_ratio(outcome: TrialOutcome) -> float | None:
    """Denied / sent orders (sent: every order the strategy asked for); None without any."""
    asked = outcome.orders + outcome.orders_denied
    return outcome.orders_denied / asked if asked > 0 else None


def compliance_section(
    definition: StrategyDefinition,
    outcomes: Sequence[TrialOutcome],
    thresholds: Thresholds,
) -> tuple[ComplianceSection, list[Check]]:
    """Storms and breaches over ``outcomes`` (failed trials have no orders to judge)."""
    ran = [o for o in outcomes if o.ok]
    limit = thresholds.max_denial_ratio
    storms: list[str] = []
    worst: float | None = None
    for outcome in ran:
        ratio = denial_ratio(outcome)
        if ratio is None:
            continue
        worst = ratio if worst is None else max(worst, ratio)
        if limit is not None and ratio > limit:
            storms.append(outcome.key)
    max_position: Decimal | None = definition.risk.max_position
    breaches: list[str] = []
    if max_position is not None:
        cap = float(max_position)
        for outcome in ran:
            for instrument, held in outcome.positions_max.items():
                if held > cap * (1 + _TOLERANCE):
                    breaches.append(
                        f"{outcome.key}: {instrument} held {held:g} > max_position {cap:g}"
                    )
    section = ComplianceSection(
        runs_checked=len(ran),
        denial_storms=storms,
        position_breaches=breaches,
        max_denial_ratio=worst,
    )
    count = len(storms) + len(breaches)
    detail = f"{len(storms)} denied-order storm(s), {len(breaches)} position breach(es)"
    checks = at_most(
        "risk_breaches", ValidationStep.COMPLIANCE, count, thresholds.max_risk_breaches, detail
    )
    checks += at_most(
        "max_denial_ratio",
        ValidationStep.COMPLIANCE,
        worst if worst is not None else 0.0,
        limit,
        f"over {len(ran)} run(s)",
    )
    return section, checks
