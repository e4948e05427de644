"""The search loop: ask a batch, run it on a pool, tell the outcomes in trial-number order.

Reproducibility is the point. The batch size is a constant, not the pool's worker count,
and each batch's sampler is seeded from the study's seed and the batch's first trial
number, so the same seed asks the same points whether the trials then run in this process,
on two worker processes or on a Ray cluster; telling in number order (not completion order)
keeps the history the sampler sees identical too.
"""

from collections.abc import Callable, Mapping

from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.optimisation.space import apply
from quantdesk.domain.optimisation.study import Objective, SearchTrial, TrialState
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.trials import TrialOutcome, TrialSpec
from quantdesk.services.optimisation.objective import missing_reason, objective_value
from quantdesk.services.ports.optimisation import AskedTrial, AttrValue, OptimisationStudy
from quantdesk.services.ports.trials import TrialPool

BATCH = 8
"""Trials asked before any is told: enough to keep a few workers busy, small enough that
the sampler learns often. Fixed: a study must not depend on the pool it ran on."""

INFEASIBLE = "infeasible"  # TrialOutcome.code of a point the family's rules refuse


def batch_seed(seed: int, first_number: int) -> int:
    """The sampler's seed for the batch starting at ``first_number`` (a 32-bit mix)."""
    return (seed * 1_000_003 + first_number * 7_919 + 17) % (2**32)


def trial_ref(definition: StrategyDefinition) -> str:
    if definition.version is None:
        raise InvalidInputError(
            f"strategy {definition.strategy_id} has no version: optimise a registered version",
            code="not_registered",
            data={"strategy_id": definition.strategy_id},
        )
    return f"{definition.strategy_id}@{definition.version}"


def trial_request(request: BacktestRequest, candidate: StrategyDefinition) -> BacktestRequest:
    """``request`` (range, venues, risk, seed) running ``candidate`` alone, pinned."""
    return request.model_copy(update={"strategies": [trial_ref(candidate)], "pinned": [candidate]})


def best_of(trials: list[SearchTrial]) -> SearchTrial | None:
    """Highest value; ties go to the lowest number (the first found)."""
    scored = [t for t in trials if t.value is not None]
    return min(scored, key=lambda t: (-(t.value or 0.0), t.number), default=None)


def trial_attrs(trial: SearchTrial) -> dict[str, AttrValue]:
    """What a stored trial keeps beside its params: enough to report and re-run it."""
    outcome = trial.outcome
    attrs: dict[str, AttrValue] = {
        "key": outcome.key,
        "fingerprint": outcome.fingerprint,
        "fills_sha256": outcome.fills_sha256,
    }
    if outcome.metrics is not None:
        attrs["metrics"] = outcome.metrics.model_dump_json()
    if trial.state is not TrialState.COMPLETE:
        attrs["reason"] = outcome.error or "no objective value"
    return attrs


def drive(
    study: OptimisationStudy,
    definition: StrategyDefinition,
    request: BacktestRequest,
    *,
    trials: int,
    objective: Objective,
    seed: int,
    pool: TrialPool,
    key_prefix: str,
    on_trial: Callable[[SearchTrial], None] | None = None,
    on_outcome: Callable[[TrialOutcome], None] | None = None,
) -> list[SearchTrial]:
    """Run ``trials`` more trials of ``study``; each told (with its attrs) as its batch ends."""
    done: list[SearchTrial] = []
    while len(done) < trials:
        size = min(BATCH, trials - len(done))
        sampler_seed = batch_seed(seed, len(study.trials()))  # the batch's first number
        asked = [study.ask(sampler_seed) for _ in range(size)]
        specs: dict[int, TrialSpec] = {}
        refused: dict[int, TrialOutcome] = {}
        for point in asked:
            key = f"{key_prefix}{point.number}"
            try:
                candidate = apply(definition, point.params)
            except InvalidInputError as error:
                refused[point.number] = TrialOutcome(key=key, error=error.message, code=INFEASIBLE)
                continue
            specs[point.number] = TrialSpec(key=key, request=trial_request(request, candidate))
        ran = pool.run(list(specs.values()), on_outcome) if specs else []
        outcomes = {**refused, **dict(zip(specs, ran, strict=True))}
        for point in asked:  # number order: the history the sampler sees never varies
            trial = _scored(point, outcomes[point.number], objective)
            study.tell(trial.number, trial.value, trial.state, trial_attrs(trial))
            done.append(trial)
            if on_trial is not None:
                on_trial(trial)
    return done


def _scored(point: AskedTrial, outcome: TrialOutcome, objective: Objective) -> SearchTrial:
    value = objective_value(outcome.metrics, objective) if outcome.ok else None
    if outcome.ok and value is None:
        outcome = outcome.model_copy(update={"error": missing_reason(outcome.metrics, objective)})
    return SearchTrial(number=point.number, params=point.params, outcome=outcome, value=value)


def attrs_metrics(attrs: Mapping[str, AttrValue]) -> str | None:
    raw = attrs.get("metrics")
    return raw if isinstance(raw, str) else None
