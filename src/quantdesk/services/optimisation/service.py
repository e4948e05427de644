"""Parameter optimisation: searches over a family's space, and stored studies (``optimize``).

``search`` is the engine of both: an in-memory study asked in fixed batches (independent of
how many workers the pool has) and told in trial-number order, so one seed gives one study
whatever runs the trials (this process, worker processes, a Ray cluster). Walk-forward calls
it per in-sample window; ``optimize`` runs it over a stored study that survives a crash.
"""

from collections.abc import Sequence

from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.optimisation.space import SearchSpace
from quantdesk.domain.optimisation.study import (
    Objective,
    Sampler,
    SearchResult,
    StudyReport,
)
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.services.ports.progress import ProgressReporter
from quantdesk.services.ports.trials import TrialPool


class OptimisationService:
    """Built by ``bootstrap_research._optimisation``."""

    def search(
        self,
        definition: StrategyDefinition,
        space: SearchSpace,
        request: BacktestRequest,
        *,
        trials: int,
        objective: Objective,
        sampler: Sampler,
        seed: int,
        pool: TrialPool,
        key_prefix: str,
        pending: Sequence[StrategyDefinition] = (),
    ) -> SearchResult:
        """Run ``trials`` points of ``space`` on ``definition`` over ``request``'s range and
        venues (its ``strategies``/``pinned`` are replaced by the candidate); trial keys are
        ``f"{key_prefix}{number}"``. Infeasible points and runs without an objective value
        are trials with ``value`` None. Deterministic for a seed whatever ``pool.workers``."""
        raise NotImplementedError("issue 15: optimisation search")

    def optimize(
        self,
        ref: str,
        *,
        space: SearchSpace | None = None,
        trials: int,
        objective: Objective,
        sampler: Sampler,
        seed: int,
        workers: int | None = None,
        ray_address: str | None = None,
        study_name: str | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        register: bool = False,
        actor: str = "local",
        progress: ProgressReporter | None = None,
        screen: bool = False,
        top_k: int = 3,
    ) -> StudyReport:
        """A stored study of ``ref`` (resumed when ``study_name`` exists with the same
        space, objective, sampler and seed), its top trials re-run and checked, its report
        written, and with ``register`` the best parameters registered as a new version."""
        raise NotImplementedError("issue 15: optimisation optimize")
