"""Walk-forward analysis: optimise in-sample, trade the choice out-of-sample, window by window.

In each window the definition's default search space is searched over the in-sample part
(the policy's trials, sampler and seed: the optimiser's own ``search``, on the validation's
pool) and the best parameters are run on the out-of-sample part that follows, which the
search never saw. Walk-forward efficiency is the mean OOS annualised return over the mean IS
one (Pardo): near 1 the in-sample performance carries over, near 0 or below it was fitted.
The OOS parts are chained into one equity curve; its Sharpe is the step's main check.
"""

import numpy as np

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.optimisation.space import apply, default_space
from quantdesk.domain.optimisation.study import Objective, Sampler, SearchTrial
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.trials import TrialOutcome
from quantdesk.domain.validation.report import (
    StepReport,
    ValidationStep,
    WalkForwardSection,
    WindowRow,
)
from quantdesk.domain.validation.windows import Window, walk_forward_windows
from quantdesk.services.optimisation.service import OptimisationService
from quantdesk.services.performance import DAY_NS
from quantdesk.services.validation.checks import at_least, step_report
from quantdesk.services.validation.context import ValidationContext
from quantdesk.services.validation.trial_series import (
    annual_sharpe,
    chained,
    equity_series,
    periods_per_year,
    total_return,
)

STEP = ValidationStep.WALK_FORWARD


def _cagr(outcome: TrialOutcome | None) -> float | None:
    if outcome is None or outcome.metrics is None:
        return None
    return outcome.metrics.cagr


def _sharpe(outcome: TrialOutcome | None) -> float | None:
    if outcome is None or outcome.metrics is None:
        return None
    return outcome.metrics.sharpe


def efficiency(is_returns: list[float | None], oos_returns: list[float | None]) -> float | None:
    """Mean OOS over mean IS annualised return, over the windows that have both; None when
    the in-sample mean is not positive (there was nothing to carry over)."""
    pairs = [(i, o) for i, o in zip(is_returns, oos_returns, strict=True) if i is not None]
    if not pairs:
        return None
    mean_is = float(np.mean([i for i, _ in pairs]))
    mean_oos = float(np.mean([o if o is not None else -1.0 for _, o in pairs]))
    return mean_oos / mean_is if mean_is > 0 else None


def walk_forward_step(
    ctx: ValidationContext, optimisation: OptimisationService
) -> tuple[WalkForwardSection, StepReport]:
    policy = ctx.policy.walk_forward
    windows = walk_forward_windows(
        ctx.start_ns,
        ctx.end_ns,
        windows=policy.windows,
        in_sample_ratio=policy.in_sample_ratio,
        mode=policy.mode,
        align_ns=DAY_NS,
    )
    space = default_space(ctx.definition)
    bests: list[SearchTrial | None] = []
    counts: list[int] = []
    for window in windows:
        found = optimisation.search(
            ctx.definition,
            space,
            ctx.request.model_copy(
                update={"start_ns": window.is_start_ns, "end_ns": window.is_end_ns}
            ),
            trials=policy.trials,
            objective=Objective(),
            sampler=Sampler(policy.sampler),
            seed=ctx.policy.seed + window.index,
            pool=ctx.tracked_pool,
            key_prefix=f"wf{window.index}-is-",
        )
        ran = [t for t in found.trials if t.outcome.code != "infeasible"]
        for trial in ran:
            ctx.record(trial.outcome, _candidate(ctx, trial))
        bests.append(found.best)
        counts.append(len(ran))
    specs = []
    for window, best in zip(windows, bests, strict=True):
        chosen = ctx.definition if best is None else apply(ctx.definition, best.params)
        specs.append(
            ctx.spec(
                f"wf{window.index}-oos",
                chosen,
                start_ns=window.oos_start_ns,
                end_ns=window.oos_end_ns,
            )
        )
        if best is None:
            ctx.warnings.append(
                f"walk-forward window {window.index}: no in-sample trial had a value; the "
                "version's own parameters were tested out-of-sample"
            )
    oos = ctx.run(specs)
    return _section(ctx, windows, bests, counts, oos)


def _candidate(ctx: ValidationContext, trial: SearchTrial) -> StrategyDefinition | None:
    try:
        return apply(ctx.definition, trial.params)
    except InvalidInputError:
        return None


def _section(
    ctx: ValidationContext,
    windows: list[Window],
    bests: list[SearchTrial | None],
    counts: list[int],
    oos: list[TrialOutcome],
) -> tuple[WalkForwardSection, StepReport]:
    rows = []
    for window, best, count, outcome in zip(windows, bests, counts, oos, strict=True):
        is_outcome = None if best is None else best.outcome
        rows.append(
            WindowRow(
                index=window.index,
                is_start_ns=window.is_start_ns,
                is_end_ns=window.is_end_ns,
                oos_start_ns=window.oos_start_ns,
                oos_end_ns=window.oos_end_ns,
                best_parameters={} if best is None else dict(best.params),
                is_trials=count,
                is_return=_cagr(is_outcome),
                oos_return=_cagr(outcome),
                is_sharpe=_sharpe(is_outcome),
                oos_sharpe=_sharpe(outcome),
                is_fingerprint="" if is_outcome is None else is_outcome.fingerprint,
                oos_fingerprint=outcome.fingerprint,
            )
        )
    start_equity = oos[0].start_equity if oos and oos[0].start_equity > 0 else 1.0
    oos_stamps, oos_returns = chained(oos, start_equity)
    is_outcomes = [b.outcome for b in bests if b is not None]
    is_stamps, is_returns = chained(is_outcomes, start_equity)
    ppy = periods_per_year(oos[0]) if oos else 252.0
    sharpe = annual_sharpe(oos_returns, ppy)
    eff = efficiency([r.is_return for r in rows], [r.oos_return for r in rows])
    failed = [o.key for o in oos if not o.ok]
    detail = f"failed out-of-sample runs: {', '.join(failed)}" if failed else ""
    section = WalkForwardSection(
        mode=ctx.policy.walk_forward.mode,
        windows=rows,
        efficiency=eff,
        oos_sharpe=sharpe,
        oos_total_return=total_return(oos_returns),
        stitched_oos=equity_series(oos_stamps, oos_returns, start_equity),
        stitched_is=equity_series(is_stamps, is_returns, start_equity),
    )
    thresholds = ctx.policy.thresholds
    checks = at_least("oos_sharpe", STEP, sharpe, thresholds.min_oos_sharpe, detail)
    checks += at_least(
        "walk_forward_efficiency",
        STEP,
        eff,
        thresholds.min_walk_forward_efficiency,
        detail or ("" if eff is not None else "no positive in-sample return to carry over"),
    )
    return section, step_report(STEP, checks)
