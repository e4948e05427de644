"""Optuna behind the ``StudyBackend`` port: samplers, distributions and RDB storage.

Optuna's storage lives in quantdesk's database but never among our tables: Optuna migrates
its schema with its own ``alembic_version`` table (and names tables ``studies``, ``trials``),
which would collide with ours. On PostgreSQL its tables go to the schema ``optuna`` (the
connections' ``search_path``); on SQLite to a sibling file of the database
(``quantdesk.db`` -> ``quantdesk-optuna.db``), since SQLite has no schemas a URL can select.

The random and TPE samplers are rebuilt for every batch with the batch's seed: what a trial
samples then depends only on the study's history and the seed, never on how long this
process has lived, so a resumed study samples as a fresh process would. The grid sampler
keeps the study's seed: it maps trial number n to point n of the grid it shuffled with it.
"""

import importlib.util
import logging
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial
from optuna.trial import TrialState as OptunaState
from sqlalchemy import create_engine, text

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.optimisation.space import ParameterRange, Params, ParamValue, SearchSpace
from quantdesk.domain.optimisation.study import Sampler, TrialState
from quantdesk.services.ports.optimisation import ZOMBIE_ATTR, AskedTrial, AttrValue, StoredTrial

OPTUNA_SCHEMA = "optuna"
_STATE_ATTR = "quantdesk_state"  # infeasible is a FAIL to Optuna; our state rides as an attr
_DIRECTION: Literal["maximize"] = "maximize"

optuna.logging.set_verbosity(logging.WARNING)


def optuna_url(database_url: str) -> tuple[str, dict[str, Any]]:
    """Optuna's storage URL and engine arguments beside quantdesk's database ``database_url``."""
    if database_url.startswith("sqlite:"):
        path = database_url.removeprefix("sqlite:///")
        if not path or path == ":memory:":
            raise InvalidInputError(
                "stored studies need a database file, not an in-memory database",
                code="study_storage",
            )
        target = Path(path)
        return f"sqlite:///{target.with_name(f'{target.stem}-optuna{target.suffix}')}", {}
    url = re.sub(r"^postgresql(\+psycopg)?:", "postgresql+psycopg:", database_url)
    return url, {"connect_args": {"options": f"-csearch_path={OPTUNA_SCHEMA}"}}


def distributions(space: SearchSpace) -> dict[str, BaseDistribution]:
    return {p.name: _distribution(p) for p in space.parameters}


def _distribution(parameter: ParameterRange) -> BaseDistribution:
    if parameter.kind == "categorical":
        return CategoricalDistribution(list(parameter.choices))
    assert parameter.low is not None and parameter.high is not None
    if parameter.kind == "int":
        step = int(parameter.step or 1)
        low = int(parameter.low)
        high = low + step * ((int(parameter.high) - low) // step)
        return IntDistribution(low, high, log=parameter.log, step=step)
    if parameter.step is not None:
        count = int((parameter.high - parameter.low) / parameter.step + 1e-9)
        top = round(parameter.low + count * parameter.step, 12)
        return FloatDistribution(parameter.low, top, step=parameter.step)
    return FloatDistribution(parameter.low, parameter.high, log=parameter.log)


class _Grid(optuna.samplers.GridSampler):
    """The grid sampler without its stop: Optuna's calls ``Study.stop`` when the grid is
    used up, which outside ``optimize`` raises in ``tell`` before the trial is finished. The
    service stops at the grid's size itself."""

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: OptunaState,
        values: Sequence[float] | None,
    ) -> None:
        return None


def _sampler(kind: Sampler, seed: int, space: SearchSpace) -> optuna.samplers.BaseSampler:
    if kind is Sampler.GRID:
        try:
            grid = {p.name: p.grid() for p in space.parameters}
        except ValueError as error:
            raise InvalidInputError(str(error), code="invalid_space") from None
        return _Grid(grid, seed=seed)
    if kind is Sampler.RANDOM:
        return optuna.samplers.RandomSampler(seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # multivariate is "experimental"
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)


class OptunaStudy:
    """One Optuna study behind the ``OptimisationStudy`` port."""

    def __init__(self, study: optuna.Study, space: SearchSpace, sampler: Sampler) -> None:
        self._study = study
        self._space = space
        self._kind = sampler
        self._distributions = distributions(space)
        self._seed: int | None = None
        self._asked: dict[int, optuna.Trial] = {}

    @property
    def name(self) -> str:
        return self._study.study_name

    def ask(self, batch_seed: int) -> AskedTrial:
        # the grid keeps the study's seed: its trial n is point n of a grid shuffled by it
        if self._kind is not Sampler.GRID and batch_seed != self._seed:
            self._study.sampler = _sampler(self._kind, batch_seed, self._space)
            self._seed = batch_seed
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trial = self._study.ask(self._distributions)
        self._asked[trial.number] = trial
        return AskedTrial(number=trial.number, params=_params(trial.params))

    def enqueue(self, params: Params) -> None:
        self._study.enqueue_trial(dict(params), skip_if_exists=False)

    def tell(
        self, number: int, value: float | None, state: TrialState, attrs: Mapping[str, AttrValue]
    ) -> None:
        trial = self._asked.pop(number, None)
        target: optuna.Trial | int = number if trial is None else trial
        storage = self._study._storage
        trial_id = storage.get_trial_id_from_study_id_trial_number(self._study._study_id, number)
        if storage.get_trial(trial_id).state.is_finished():
            return  # failed as a zombie by another process on this study: its verdict stands
        for key, item in {**attrs, _STATE_ATTR: state.value}.items():
            self._set_attr(number, key, item)
        if state is TrialState.COMPLETE:
            if value is None:
                raise ValueError("a complete trial needs a value")
            self._study.tell(target, value)
        else:
            self._study.tell(target, state=OptunaState.FAIL)

    def _set_attr(self, number: int, key: str, value: AttrValue) -> None:
        storage = self._study._storage
        trial_id = storage.get_trial_id_from_study_id_trial_number(self._study._study_id, number)
        storage.set_trial_user_attr(trial_id, key, value)

    def trials(self) -> list[StoredTrial]:
        return [_stored(t) for t in self._study.get_trials(deepcopy=False)]

    def fail_running(self, reason: str) -> list[int]:
        zombies = self._study.get_trials(deepcopy=False, states=(OptunaState.RUNNING,))
        numbers = []
        for trial in zombies:
            self._set_attr(trial.number, "reason", reason)
            self._set_attr(trial.number, ZOMBIE_ATTR, True)
            self._set_attr(trial.number, _STATE_ATTR, TrialState.FAIL.value)
            self._study.tell(trial.number, state=OptunaState.FAIL, skip_if_finished=True)
            numbers.append(trial.number)
        return numbers

    def importance(self, seed: int) -> dict[str, float]:
        complete = self._study.get_trials(deepcopy=False, states=(OptunaState.COMPLETE,))
        varying = [
            name
            for name in self._distributions
            if len({repr(t.params.get(name)) for t in complete}) > 1
        ]
        if len(complete) < 2 or not varying:
            return {}
        evaluator = _evaluator(seed)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                found = optuna.importance.get_param_importances(
                    self._study, evaluator=evaluator, params=varying
                )
        except (RuntimeError, ValueError, ZeroDivisionError, ImportError):
            return {}
        return {name: float(value) for name, value in found.items()}


def _evaluator(seed: int) -> optuna.importance.BaseImportanceEvaluator:
    """fANOVA (seeded) when scikit-learn is installed; else PED-ANOVA, which needs no
    random forest and is deterministic by construction (quantdesk does not ship sklearn)."""
    if importlib.util.find_spec("sklearn") is not None:
        return optuna.importance.FanovaImportanceEvaluator(seed=seed)
    return optuna.importance.PedAnovaImportanceEvaluator()


def _params(raw: Mapping[str, Any]) -> Params:
    return {name: _value(value) for name, value in raw.items()}


def _value(value: Any) -> ParamValue:
    if isinstance(value, bool | int | str) or value is None:
        return value
    return float(value)


def _stored(trial: FrozenTrial) -> StoredTrial:
    attrs: dict[str, AttrValue] = dict(trial.user_attrs)
    raw_state = attrs.pop(_STATE_ATTR, None)
    if trial.state is OptunaState.COMPLETE:
        state = TrialState.COMPLETE
    elif trial.state in (OptunaState.RUNNING, OptunaState.WAITING):
        state = TrialState.RUNNING
    else:
        state = TrialState(raw_state) if isinstance(raw_state, str) else TrialState.FAIL
    value = trial.value if trial.state is OptunaState.COMPLETE else None
    return StoredTrial(
        number=trial.number,
        params=_params(trial.params),
        value=None if value is None else float(value),
        state=state,
        attrs=attrs,
    )


class OptunaStudyBackend:
    """The ``StudyBackend`` port: in-memory studies, and stored ones beside ``database_url``."""

    def __init__(self, database_url: str | None = None) -> None:
        self._database_url = database_url
        self._storage: optuna.storages.RDBStorage | None = None

    def memory(self, space: SearchSpace, sampler: Sampler, seed: int) -> OptunaStudy:
        study = optuna.create_study(
            storage=optuna.storages.InMemoryStorage(),
            sampler=_sampler(sampler, seed, space),
            direction=_DIRECTION,
        )
        return OptunaStudy(study, space, sampler)

    def stored(self, name: str, space: SearchSpace, sampler: Sampler, seed: int) -> OptunaStudy:
        study = optuna.create_study(
            study_name=name,
            storage=self._rdb(),
            sampler=_sampler(sampler, seed, space),
            direction=_DIRECTION,
            load_if_exists=True,
        )
        return OptunaStudy(study, space, sampler)

    def delete(self, name: str) -> None:
        try:
            optuna.delete_study(study_name=name, storage=self._rdb())
        except KeyError:
            return

    def _rdb(self) -> optuna.storages.RDBStorage:
        if self._storage is None:
            if self._database_url is None:
                raise InvalidInputError("stored studies need a database", code="study_storage")
            url, engine_kwargs = optuna_url(self._database_url)
            if url.startswith("postgresql"):
                _create_schema(url)
            self._storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
        return self._storage


def _create_schema(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {OPTUNA_SCHEMA}"))
    finally:
        engine.dispose()
