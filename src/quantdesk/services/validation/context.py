"""One validation run's state, shared by its steps: the version, the policy, the pinned base
request, the one pool every trial runs on, and what the steps have run so far.

Every trial goes through ``run`` (or is recorded with ``record`` when another service ran it
on the same pool, like the walk-forward's searches), so the report's fingerprints, the
compliance step's runs and the deflated Sharpe's count of parameter sets miss none.
"""

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.optimisation.space import ParamValue
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.trials import TrialOutcome, TrialSpec
from quantdesk.domain.validation.policy import ValidationPolicy
from quantdesk.domain.validation.report import StepReport, ValidationStep
from quantdesk.services.ports.progress import Advance, ProgressReporter
from quantdesk.services.ports.trials import TrialPool


def parameter_key(definition: StrategyDefinition, params: Mapping[str, ParamValue]) -> str:
    """One parameter set, spelled one way (the version's values with ``params`` over them)."""
    values = {**definition.parameters.model_dump(mode="json"), **params}
    return json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)


@dataclass
class ValidationContext:
    """Built by the pipeline per run; steps read it and add to it."""

    definition: StrategyDefinition
    ref: str  # id@version
    policy: ValidationPolicy
    request: BacktestRequest  # the version pinned, range pinned to the catalog's data
    pool: TrialPool
    progress: ProgressReporter
    outcomes: list[TrialOutcome] = field(default_factory=list)
    parameter_sets: set[str] = field(default_factory=set)  # distinct sets that ran
    warnings: list[str] = field(default_factory=list)
    steps: list[StepReport] = field(default_factory=list)
    study: tuple[str, int] | None = None  # (name, trials) of the study that chose the version
    _advance: Advance | None = None

    @property
    def tracked_pool(self) -> TrialPool:
        """The pool, each finished trial advancing the current step's progress (what other
        services, like the walk-forward's searches, are handed)."""
        return _TrackedPool(self)

    @property
    def start_ns(self) -> int:
        assert self.request.start_ns is not None
        return self.request.start_ns

    @property
    def end_ns(self) -> int:
        assert self.request.end_ns is not None
        return self.request.end_ns

    def skipped_by_policy(self, step: ValidationStep) -> bool:
        return step.value in self.policy.skip_steps

    def spec(
        self,
        key: str,
        definition: StrategyDefinition | None = None,
        *,
        start_ns: int | None = None,
        end_ns: int | None = None,
        request: BacktestRequest | None = None,
        catalog: str | None = None,
    ) -> TrialSpec:
        """A trial of ``definition`` (the version by default) over a part of the range."""
        base = request or self.request
        update: dict[str, object] = {"pinned": [definition or self.definition]}
        if start_ns is not None:
            update["start_ns"] = start_ns
        if end_ns is not None:
            update["end_ns"] = end_ns
        return TrialSpec(key=key, request=base.model_copy(update=update), catalog=catalog)

    def run(
        self, specs: Sequence[TrialSpec], *, count_parameters: bool = True
    ) -> list[TrialOutcome]:
        """Run ``specs`` on the pool; every outcome is kept for the report and compliance.
        ``count_parameters``: the trials' parameter sets count for the deflated Sharpe (not
        for stress scenarios: the same parameters on other data)."""
        if not specs:
            return []
        outcomes = self.tracked_pool.run(specs)
        for spec, outcome in zip(specs, outcomes, strict=True):
            pinned = spec.request.pinned[0] if spec.request.pinned else self.definition
            self.record(outcome, pinned if count_parameters else None)
        return outcomes

    def record(self, outcome: TrialOutcome, definition: StrategyDefinition | None) -> None:
        """Keep an outcome (run by this context's pool) and, with its definition, count its
        parameter set (a trial that ran at all was a try, whatever it scored)."""
        self.outcomes.append(outcome)
        if definition is not None and outcome.error is None:
            self.parameter_sets.add(parameter_key(definition, {}))

    @contextmanager
    def step(self, name: str, total: int | None = None) -> Iterator[None]:
        """A progress task; trials run inside it advance it."""
        with self.progress.task(name, total) as advance:
            self._advance = advance
            try:
                yield
            finally:
                self._advance = None

    def tick(self) -> None:
        if self._advance is not None:
            self._advance(1)

    @property
    def fingerprints(self) -> list[str]:
        return [o.fingerprint for o in self.outcomes if o.fingerprint]


class _TrackedPool:
    """A pool that ticks its context's progress as trials finish."""

    def __init__(self, ctx: ValidationContext) -> None:
        self._ctx = ctx

    @property
    def workers(self) -> int:
        return self._ctx.pool.workers

    def run(
        self,
        specs: Sequence[TrialSpec],
        on_outcome: Callable[[TrialOutcome], None] | None = None,
    ) -> list[TrialOutcome]:
        def done(outcome: TrialOutcome) -> None:
            self._ctx.tick()
            if on_outcome is not None:
                on_outcome(outcome)

        return self._ctx.pool.run(specs, done)

    def close(self) -> None:
        """The validation closes the real pool once, at its end."""
