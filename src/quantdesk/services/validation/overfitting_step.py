"""Overfitting statistics: how much of the candidate's Sharpe the search for it explains.

``configurations`` parameter sets (the version's own first, the rest drawn from the default
search space with the policy's seed) run over the whole range give a days x sets matrix of
daily returns. Combinatorially purged cross-validation splits the days into groups; in each
split the set that was best on the training groups is ranked on the test groups, and the
probability of backtest overfitting (PBO: Bailey, Borwein, López de Prado & Zhu, 2017) is
the share of splits where it ranks below the median. Training days within ``purge`` days of
a test group are purged (a position held across the boundary would leak) and an embargo
follows each test group.

The deflated Sharpe ratio (Bailey & López de Prado, 2014) asks whether the candidate's
Sharpe beats the best of N unskilled tries: N counts every distinct parameter set this
validation ran (the configurations and every walk-forward trial) plus the trials of the
optimisation study the version was registered from (when it was), and the variance is that
of the configurations' Sharpe ratios (one range, so comparable).
"""

import math

import numpy as np

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.optimisation.space import Params, SearchSpace, apply, default_space
from quantdesk.domain.trials import TrialOutcome
from quantdesk.domain.validation.report import OverfittingSection, StepReport, ValidationStep
from quantdesk.services.performance import DAY_NS
from quantdesk.services.validation.checks import at_least, at_most, step_report
from quantdesk.services.validation.context import ValidationContext, parameter_key
from quantdesk.services.validation.cross_validation import cpcv_splits, pbo
from quantdesk.services.validation.overfitting import deflated_sharpe
from quantdesk.services.validation.trial_series import daily_returns, returns_matrix

STEP = ValidationStep.OVERFITTING
_DRAWS_PER_SET = 20  # attempts to find a new feasible point before giving up on more


def _draw(space: SearchSpace, rng: np.random.Generator) -> Params:
    point: Params = {}
    for parameter in space.parameters:
        if parameter.kind == "float" and parameter.step is None:
            assert parameter.low is not None and parameter.high is not None
            point[parameter.name] = float(rng.uniform(parameter.low, parameter.high))
        else:
            values = parameter.grid()
            point[parameter.name] = values[int(rng.integers(len(values)))]
    return point


def configurations(ctx: ValidationContext, count: int) -> list[Params]:
    """The version's own parameters ({}) then up to ``count - 1`` distinct feasible points
    of its default space, drawn with the policy's seed."""
    space = default_space(ctx.definition)
    rng = np.random.default_rng(ctx.policy.seed)
    chosen: list[Params] = [{}]
    seen = {parameter_key(ctx.definition, {})}
    attempts = 0
    while len(chosen) < count and attempts < count * _DRAWS_PER_SET:
        attempts += 1
        point = _draw(space, rng)
        key = parameter_key(ctx.definition, point)
        if key in seen:
            continue
        try:
            apply(ctx.definition, point)
        except InvalidInputError:
            continue
        seen.add(key)
        chosen.append(point)
    return chosen


def purge_days(ctx: ValidationContext, outcomes: list[TrialOutcome]) -> int:
    """The policy's purge, or the longest holding time of any configuration, in days."""
    configured = ctx.policy.overfitting.purge_days
    if configured is not None:
        return configured
    longest = max((max(o.holding_ns, default=0) for o in outcomes), default=0)
    return math.ceil(longest / DAY_NS)


def _per_observation_sharpe(returns: np.ndarray) -> float | None:
    if returns.shape[0] < 2:
        return None
    std = float(np.std(returns, ddof=1))
    return float(np.mean(returns)) / std if std > 0 else None


def _too_few_days(days: int, groups: int) -> None:
    if days < 2 * groups:
        raise InvalidInputError(
            f"{days} days of returns are too few for {groups} CPCV groups (at least {2 * groups})"
        )


def overfitting_step(
    ctx: ValidationContext, candidate: TrialOutcome
) -> tuple[OverfittingSection, StepReport]:
    policy = ctx.policy.overfitting
    _too_few_days(len(candidate.daily_ts), policy.groups)  # before running any configuration
    points = configurations(ctx, policy.configurations)
    specs = [ctx.spec(f"config-{i}", apply(ctx.definition, p)) for i, p in enumerate(points)][1:]
    outcomes = [candidate, *ctx.run(specs)]
    ran = [o for o in outcomes if o.ok]
    if len(ran) < 2:
        raise InvalidInputError("fewer than two parameter sets ran over the range: no PBO")
    days, matrix = returns_matrix(ran)
    n_obs = int(days.shape[0])
    _too_few_days(n_obs, policy.groups)
    purge = purge_days(ctx, ran)
    embargo = math.ceil(policy.embargo_fraction * n_obs)
    splits = cpcv_splits(
        n_obs, groups=policy.groups, test_groups=policy.test_groups, purge=purge, embargo=embargo
    )
    result = pbo(matrix, splits)
    found = (_per_observation_sharpe(matrix[:, i]) for i in range(len(ran)))
    sharpes = [s for s in found if s is not None]  # a set that never traded has none
    variance = float(np.var(sharpes, ddof=1)) if len(sharpes) >= 2 else 0.0
    _, candidate_returns = daily_returns(candidate)
    trials = max(len(ctx.parameter_sets), len(ran))
    detail = f"N = {trials} parameter sets, {n_obs} days"
    if ctx.study is not None:  # the search that chose the version's parameters counts too
        trials += ctx.study[1]
        detail = (
            f"N = {trials} parameter sets ({ctx.study[1]} of study {ctx.study[0]}), {n_obs} days"
        )
    stats = deflated_sharpe(candidate_returns, trials=trials, sharpe_variance=variance)
    ppy = candidate.metrics.periods_per_year if candidate.metrics else None
    section = OverfittingSection(
        configurations=len(ran),
        trials_counted=trials,
        observations=int(candidate_returns.shape[0]),
        sharpe=stats.sr,
        annual_sharpe=None if ppy is None else stats.sr * math.sqrt(ppy),
        skewness=stats.skew,
        kurtosis=stats.kurtosis,
        sharpe_variance=variance,
        expected_max_sharpe=stats.sr0,
        probabilistic_sharpe=stats.psr,
        deflated_sharpe=stats.dsr,
        pbo=result.pbo,
        splits=len(splits),
        logits=[float(x) for x in result.logits],
        purged_observations=int(sum(s.purged for s in splits)),
        embargoed_observations=int(sum(s.embargoed for s in splits)),
    )
    thresholds = ctx.policy.thresholds
    checks = at_least("deflated_sharpe", STEP, stats.dsr, thresholds.min_deflated_sharpe, detail)
    checks += at_least(
        "probabilistic_sharpe", STEP, stats.psr, thresholds.min_probabilistic_sharpe, detail
    )
    checks += at_most(
        "pbo", STEP, result.pbo, thresholds.max_pbo, f"{len(splits)} CPCV splits of {len(ran)} sets"
    )
    return section, step_report(STEP, checks)
