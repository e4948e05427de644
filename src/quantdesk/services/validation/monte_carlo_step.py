"""Monte Carlo: how much of the candidate's path was the luck of the order things happened in.

Two seeded resamplings of the candidate's own trial, no new backtests: its closed trades'
pnls drawn with replacement into new sequences (the drawdowns the actual order hid), and its
daily returns bootstrapped the same way (other histories of the same return distribution).
Each gives a distribution of final equity and maximum drawdown, reported by percentiles;
the daily bootstrap's equity percentiles over time are the report's fan.
"""

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.trials import TrialOutcome
from quantdesk.domain.validation.report import MonteCarloSection, StepReport, ValidationStep
from quantdesk.services.validation.checks import loss_at_most, step_report
from quantdesk.services.validation.context import ValidationContext
from quantdesk.services.validation.resampling import daily_bootstrap, trade_order_bootstrap
from quantdesk.services.validation.trial_series import daily_returns, thin

STEP = ValidationStep.MONTE_CARLO


def monte_carlo_step(
    ctx: ValidationContext, candidate: TrialOutcome
) -> tuple[MonteCarloSection, StepReport]:
    samples = ctx.policy.monte_carlo.samples
    seed = ctx.policy.seed
    _, returns = daily_returns(candidate)
    if returns.shape[0] < 2:
        raise InvalidInputError("fewer than two daily returns: nothing to bootstrap")
    trades = trade_order_bootstrap(candidate.trade_pnls, candidate.start_equity, samples, seed)
    daily = daily_bootstrap(returns, candidate.start_equity, samples, seed)
    fan = {
        name: thin([(int(t), float(v)) for t, v in zip(candidate.daily_ts, path, strict=True)])
        for name, path in daily.fan.items()
    }
    section = MonteCarloSection(
        samples=samples,
        seed=seed,
        trades=len(candidate.trade_pnls),
        days=int(returns.shape[0]),
        trade_order_final_equity=None if trades is None else trades.final_equity,
        trade_order_max_drawdown=None if trades is None else trades.max_drawdown,
        daily_final_equity=daily.final_equity,
        daily_max_drawdown=daily.max_drawdown,
        fan=fan,
    )
    worst = daily.max_drawdown.p95  # the 95th percentile of the drawdowns' sizes
    checks = loss_at_most(
        "monte_carlo_drawdown",
        STEP,
        -abs(worst),
        ctx.policy.thresholds.max_monte_carlo_drawdown,
        f"95th percentile of {samples} bootstrapped daily paths",
    )
    return section, step_report(STEP, checks)
