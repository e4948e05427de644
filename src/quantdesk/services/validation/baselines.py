"""Baselines and significance: is the candidate better than doing nothing clever?

- Buy-and-hold of the first instrument over the range, from the catalog's closes (the
  instrument's own return, for orientation: no check compares with it).
- Random entries on the same closes with the candidate's holding times (in bars) and
  exposure, over many seeds: a strategy with no information that trades as much and holds
  as long. Their returns are of a fully invested position; they are scaled by the
  candidate's position size over its equity (its leverage when in the market) before the
  comparison, so both are returns on the same account. The p-value is the share of random
  strategies, the candidate counted among them, at or above the candidate.
- A bootstrap p-value of the candidate's mean daily return (centred: under no edge).
"""

import numpy as np

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.market_data import BarSpec, bar_type_id
from quantdesk.domain.trials import TrialOutcome
from quantdesk.domain.validation.report import BaselinesSection, StepReport, ValidationStep
from quantdesk.services.ports import MarketDataCatalog
from quantdesk.services.validation.checks import at_most, step_report
from quantdesk.services.validation.context import ValidationContext
from quantdesk.services.validation.resampling import (
    bootstrap_p_value,
    buy_and_hold_return,
    random_entry_returns,
)
from quantdesk.services.validation.trial_series import daily_returns

STEP = ValidationStep.BASELINES


def leverage(candidate: TrialOutcome, instrument: str, mean_close: float) -> float:
    """The candidate's position value over its starting equity when in the market."""
    held = candidate.positions_max.get(instrument, 0.0)
    return held * mean_close / candidate.start_equity if candidate.start_equity > 0 else 0.0


def holding_bars(candidate: TrialOutcome, ts_ns: np.ndarray) -> list[int]:
    """The candidate's holding times in bars of the closes' typical spacing (at least 1)."""
    step = float(np.median(np.diff(ts_ns))) if ts_ns.shape[0] > 1 else 1.0
    return [max(1, round(h / step)) for h in candidate.holding_ns] or [1]


def baselines_step(
    ctx: ValidationContext, candidate: TrialOutcome, catalog: MarketDataCatalog
) -> tuple[BaselinesSection, StepReport]:
    policy = ctx.policy.baselines
    metrics = candidate.metrics
    assert metrics is not None
    instrument = ctx.definition.instruments[0]
    bar_type = bar_type_id(instrument, BarSpec.parse(ctx.definition.bar_spec))
    ts, closes = catalog.read_closes(bar_type, ctx.start_ns, ctx.end_ns)
    if closes.shape[0] < 2:
        raise InvalidInputError(f"fewer than two closes of {instrument} in the range")
    if not candidate.holding_ns:
        raise InvalidInputError("the candidate closed no trade: no holding times to imitate")
    scale = leverage(candidate, instrument, float(np.mean(closes)))
    randoms = np.asarray(
        random_entry_returns(
            closes,
            holding_bars=holding_bars(candidate, ts),
            exposure=metrics.exposure,
            seeds=policy.random_seeds,
            seed=ctx.policy.seed,
        ),
        np.float64,
    )
    scaled = randoms * scale
    strategy = metrics.total_return
    at_or_above = int(np.count_nonzero(scaled >= strategy))
    p_random = (1 + at_or_above) / (1 + scaled.shape[0])
    _, returns = daily_returns(candidate)
    p_bootstrap = bootstrap_p_value(returns, policy.bootstrap_samples, ctx.policy.seed)
    section = BaselinesSection(
        strategy_return=strategy,
        buy_and_hold_return=buy_and_hold_return(closes),  # of the instrument itself
        random_entry_seeds=int(scaled.shape[0]),
        random_entry_mean_return=float(np.mean(scaled)),
        random_entry_p95_return=float(np.percentile(scaled, 95)),
        p_value_random_entry=p_random,
        p_value_bootstrap=p_bootstrap,
    )
    limit = ctx.policy.thresholds.max_p_value
    checks = at_most(
        "p_value_random_entry",
        STEP,
        p_random,
        limit,
        f"{at_or_above} of {scaled.shape[0]} random entries did as well",
    )
    checks += at_most(
        "p_value_bootstrap", STEP, p_bootstrap, limit, f"{returns.shape[0]} daily returns"
    )
    return section, step_report(STEP, checks)
