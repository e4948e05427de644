"""Parameter optimisation: searches over a family's space, and stored studies (``optimize``).

``search`` is the engine of both: an in-memory study asked in fixed batches (independent of
how many workers the pool has) and told in trial-number order, so one seed gives one study
whatever runs the trials (this process, worker processes, a Ray cluster). Walk-forward calls
it per in-sample window; ``optimize`` runs it over a stored study that survives a crash.
"""

import time
from collections.abc import Callable
from pathlib import Path

from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.errors import InvalidInputError, NotFoundError
from quantdesk.domain.optimisation.space import Params, SearchSpace, apply, default_space
from quantdesk.domain.optimisation.space_file import SpaceFile, load_space
from quantdesk.domain.optimisation.study import (
    Objective,
    Sampler,
    ScreenSummary,
    SearchResult,
    SearchTrial,
    StudyRecord,
    StudyReport,
    StudyState,
    StudyTrial,
    TrialState,
)
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.services.backtest_ticks import require_bars
from quantdesk.services.backtests import BacktestService
from quantdesk.services.optimisation import studies
from quantdesk.services.optimisation.screening import Closes, screen_leaders
from quantdesk.services.optimisation.search import best_of, drive
from quantdesk.services.ports.documents import Document
from quantdesk.services.ports.optimisation import (
    ZOMBIE_ATTR,
    OptimisationReportRenderer,
    StudyBackend,
    StudyRecordStore,
)
from quantdesk.services.ports.progress import ProgressReporter, SilentProgress
from quantdesk.services.ports.trials import TrialPool
from quantdesk.services.registry import StrategyRegistry

PoolOpener = Callable[[int, str | None], TrialPool]
"""``TrialPools.open``: ``workers`` local processes or the Ray cluster at an address."""

TRIALS_TASK = "trials"
RERUN_TASK = "re-running the best trials"
TRIALS_MAX = 100_000
_ZOMBIE_REASON = "the process running this trial stopped before it finished"


class OptimisationService:
    """Built by ``bootstrap_research._optimisation``; ``optimize`` needs every part, ``search``
    only the backend."""

    def __init__(
        self,
        backend: StudyBackend,
        *,
        registry: Callable[[], StrategyRegistry] | None = None,
        backtests: BacktestService | None = None,
        pools: PoolOpener | None = None,
        records: StudyRecordStore | None = None,
        renderer: OptimisationReportRenderer | None = None,
        studies_dir: Path | None = None,
        workers: int = 1,
        ray_address: str | None = None,
        closes: Closes | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._closes = closes
        self._backend = backend
        self._registry = registry
        self._backtests = backtests
        self._pools = pools
        self._records = records
        self._renderer = renderer
        self._studies_dir = studies_dir
        self._workers = workers
        self._ray_address = ray_address
        self._clock = clock

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
    ) -> SearchResult:
        """Run ``trials`` points of ``space`` on ``definition`` over ``request``'s range and
        venues (its ``strategies``/``pinned`` are replaced by the candidate); trial keys are
        ``f"{key_prefix}{number}"``. Infeasible points and runs without an objective value
        are trials with ``value`` None. Deterministic for a seed whatever ``pool.workers``.
        A grid search runs at most the grid's size."""
        _check_space(definition, space)
        count = _trial_count(trials, space, sampler, done=0)
        study = self._backend.memory(space, sampler, seed)
        done = drive(
            study,
            definition,
            request,
            trials=count,
            objective=objective,
            seed=seed,
            pool=pool,
            key_prefix=key_prefix,
        )
        return SearchResult(trials=done, best=best_of(done))

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
        _check_trials(trials)  # the caller's own values, before anything is read or written
        if study_name is not None:
            studies.check_name(study_name)
        registry, backtests, records, pools = self._parts()
        progress = progress or SilentProgress()
        started = self._clock()
        definition = registry().resolve(ref).definition
        space = space or default_space(definition)
        _check_space(definition, space)
        exact = f"{definition.strategy_id}@{definition.version}"
        name = study_name or studies.default_name(definition, objective, sampler, seed)
        studies.check_name(name)
        existing = records.get(name)
        record = studies.study_record(
            existing, name, exact, space, objective, sampler, seed, trials, actor, self._clock()
        )
        records.save(record)
        study = self._backend.stored(name, space, sampler, seed)
        study.fail_running(_ZOMBIE_REASON)
        told = [t for t in study.trials() if t.attrs.get(ZOMBIE_ATTR) is not True]
        remaining = _trial_count(trials, space, sampler, done=len(told))
        screened = None
        if screen and not told:  # a fresh study: the leaders are its first trials
            screened = self._screen(definition, space, objective, remaining, start_ns, end_ns)
            for params in screened[0]:
                study.enqueue(params)
        request = BacktestRequest(strategies=[exact], start_ns=start_ns, end_ns=end_ns)
        pool = pools(workers or self._workers, ray_address or self._ray_address)
        try:
            with progress.task(TRIALS_TASK, total=remaining) as advance:
                drive(
                    study,
                    definition,
                    request,
                    trials=remaining,
                    objective=objective,
                    seed=seed,
                    pool=pool,
                    key_prefix=f"{name}#",
                    on_outcome=lambda _outcome: advance(1),  # as each one finishes
                    on_trial=lambda trial: advance(_never_ran(trial)),  # infeasible
                )
        except BaseException:
            records.save(
                record.model_copy(update={"state": StudyState.FAILED, "updated_ns": self._clock()})
            )
            raise
        finally:
            pool.close()
        reported = [studies.study_trial(t) for t in study.trials()]
        best = studies.best_number(reported)
        with progress.task(RERUN_TASK, total=None):
            reruns = studies.rerun_top(
                backtests,
                definition,
                request,
                reported,
                objective,
                top_k=top_k,
                submitted_by=actor,
            )
        importance = study.importance(seed)
        registered = None
        if register and best is not None and all(r.matched for r in reruns):
            registered = self._register(registry(), definition, reported, best, name, actor)
        report = StudyReport(
            study_name=name,
            ref=exact,
            objective=objective,
            sampler=sampler,
            seed=seed,
            space=space,
            space_sha256=space.sha256,
            start_ns=start_ns,
            end_ns=end_ns,
            trials_requested=trials,
            trials=reported,
            best_number=best,
            importance=importance,
            importance_note="" if importance else _importance_note(reported),
            reruns=reruns,
            registered_ref=registered,
            started_ns=started,
            finished_ns=self._clock(),
            resumed=existing is not None,
            screened=None if screened is None else screened[1],
        )
        directory = self._write(report)
        best_value = next((t.value for t in reported if t.number == best), None)
        records.save(
            record.model_copy(
                update={
                    "state": StudyState.COMPLETED,
                    "best_number": best,
                    "best_value": best_value,
                    "registered_ref": registered,
                    "report_dir": None if directory is None else str(directory),
                    "updated_ns": self._clock(),
                }
            )
        )
        studies.check_reruns(report)
        return report

    def definition(self, ref: str) -> StrategyDefinition:
        """The version ``ref`` names (``ID``, ``ID@VERSION``, ``ID@TAG``)."""
        return self._parts()[0]().resolve(ref).definition

    def load_space(self, ref: str, document: Document) -> SpaceFile:
        """A space file for ``ref``'s family (read by the bounded reader); errors name the
        file's line and field."""
        return load_space(
            document.data, self.definition(ref), name=document.name, line_of=document.line_of
        )

    def default_space(self, ref: str) -> SearchSpace:
        return default_space(self.definition(ref))

    def report_dir(self, name: str) -> Path:
        if self._studies_dir is None:
            raise InvalidInputError("this desk has no studies folder", code="study_storage")
        return self._studies_dir / name

    def studies(self) -> list[StudyRecord]:
        """Every stored study, newest first."""
        return self._parts()[2].list()

    def study(self, name: str) -> StudyRecord:
        studies.check_name(name)
        found = self._parts()[2].get(name)
        if found is None:
            raise NotFoundError(
                f"no study named {name!r}", code="study_not_found", data={"study": name}
            )
        return found

    def report(self, name: str) -> StudyReport:
        """The report of a study's last completed run (NotFoundError before one completes)."""
        return studies.read_report(self._written(name, studies.REPORT_JSON).parent)

    def report_html(self, name: str) -> Path:
        return self._written(name, studies.REPORT_HTML)

    def _written(self, name: str, file: str) -> Path:
        record = self.study(name)
        path = self.report_dir(record.name) / file
        if not path.is_file():
            raise NotFoundError(
                f"study {name!r} has no report yet ({record.state.value})",
                code="study_report_missing",
                data={"study": name, "state": record.state.value},
            )
        return path

    # --- parts -------------------------------------------------------------------------------

    def _parts(
        self,
    ) -> tuple[Callable[[], StrategyRegistry], BacktestService, StudyRecordStore, PoolOpener]:
        if (
            self._registry is None
            or self._backtests is None
            or self._records is None
            or self._pools is None
        ):
            raise InvalidInputError(
                "stored studies need the registry, the database and trial pools",
                hint="open the desk with its database",
                code="study_storage",
            )
        return self._registry, self._backtests, self._records, self._pools

    def _register(
        self,
        registry: StrategyRegistry,
        definition: StrategyDefinition,
        reported: list[StudyTrial],
        best: int,
        name: str,
        actor: str,
    ) -> str | None:
        """The version registered from the best trial (None: the best parameters are the
        optimised version's own; a repeat finds the version registered before)."""
        trial = next(t for t in reported if t.number == best)
        candidate = apply(definition, trial.params)
        reason = (
            f"optimisation study {name}: best trial #{best} of {definition.strategy_id}@"
            f"{definition.version} ({trial.value:.6g})"
        )
        fresh = candidate.model_copy(update={"version": None, "author": None, "created_at": None})
        stored = registry.update(fresh, actor, reason).stored
        if stored.definition.version == definition.version:
            return None
        return stored.definition.ref

    def _screen(
        self,
        definition: StrategyDefinition,
        space: SearchSpace,
        objective: Objective,
        leaders: int,
        start_ns: int | None,
        end_ns: int | None,
    ) -> tuple[list[Params], ScreenSummary]:
        if self._closes is None:
            raise InvalidInputError("this desk has no catalog to screen on", code="not_screenable")
        return screen_leaders(
            definition,
            space,
            objective,
            self._closes,
            leaders=leaders,
            start_ns=start_ns,
            end_ns=end_ns,
        )

    def _write(self, report: StudyReport) -> Path | None:
        if self._studies_dir is None:
            return None
        return studies.write_report(report, self._studies_dir / report.study_name, self._renderer)


def _check_space(definition: StrategyDefinition, space: SearchSpace) -> None:
    require_bars(definition, "optimisation")
    if space.family != definition.family.value:
        raise InvalidInputError(
            f"the search space is for {space.family}, the strategy is {definition.family.value}",
            code="invalid_space",
            data={"family": space.family},
        )


def _check_trials(trials: int) -> None:
    if not 1 <= trials <= TRIALS_MAX:
        raise InvalidInputError(
            f"trials must be 1..{TRIALS_MAX}, not {trials}",
            code="invalid_trials",
            data={"trials": trials},
        )


def _trial_count(trials: int, space: SearchSpace, sampler: Sampler, *, done: int) -> int:
    _check_trials(trials)
    wanted = trials - done
    if sampler is Sampler.GRID:
        try:
            wanted = min(wanted, space.grid_size() - done)
        except ValueError as error:
            raise InvalidInputError(str(error), code="invalid_space") from None
    return max(0, wanted)


def _never_ran(trial: SearchTrial) -> int:
    return 1 if trial.state is TrialState.INFEASIBLE else 0


def _importance_note(trials: list[StudyTrial]) -> str:
    complete = sum(1 for t in trials if t.state is TrialState.COMPLETE)
    return f"too few complete trials ({complete}) or no parameter varied: no importance"
