"""Stored studies on a tiny synthetic market, on SQLite and PostgreSQL: the trials run on the
warm trial engine, the best are re-run as stored runs and reproduce, ``register`` makes a new
version naming the study, a study resumes (also after its process was SIGKILLed), and the
same seed gives the same trials on one worker or two.
"""

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

import quantdesk
from quantdesk.adapters.optimisation.optuna_study import OptunaStudyBackend, optuna_url
from quantdesk.adapters.storage.database import MIGRATIONS, Database
from quantdesk.adapters.storage.study_records import SqlStudyRecordStore
from quantdesk.bootstrap import bootstrap
from quantdesk.bootstrap_research import trial_evaluator
from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.errors import ConflictError
from quantdesk.domain.optimisation.space import ParameterRange, SearchSpace, apply
from quantdesk.domain.optimisation.study import Objective, Sampler, StudyState, TrialState
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.services.optimisation.service import OptimisationService
from quantdesk.services.platform import Platform
from quantdesk.services.ports.optimisation import ZOMBIE_ATTR
from quantdesk.services.ports.trials import TrialPool
from quantdesk.services.synthetic import SyntheticMarketConfig
from quantdesk.services.trials import InlineTrialPool
from quantdesk.settings import QuantdeskSettings
from support.registry import postgres_database

SPACE = SearchSpace(
    family="trend_following",
    parameters=(
        ParameterRange(name="fast_period", kind="int", low=5, high=15, step=2),
        ParameterRange(name="slow_period", kind="int", low=30, high=60, step=10),
        ParameterRange(name="ma_type", kind="categorical", choices=("ema", "sma")),
    ),
)
TREND = {
    "strategy_id": "trend-opt",
    "family": "trend_following",
    "name": "trend to optimise",
    "instruments": ["SYN01.SIM"],
    "parameters": {"fast_period": 10, "slow_period": 50, "trade_size": "100"},
}


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("optimise") / "home"
    bootstrap(home=home).synthetic.synthesize(SyntheticMarketConfig(instruments=1, days=2, seed=11))
    return home


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def settings(
    request: pytest.FixtureRequest, market: Path, tmp_path: Path
) -> Iterator[QuantdeskSettings]:
    if request.param == "sqlite":
        yield QuantdeskSettings(home=market, database_url=f"sqlite:///{tmp_path / 'qd.db'}")
        return
    with postgres_database() as url:
        yield QuantdeskSettings(home=market, database_url=url)


def optimiser(
    settings: QuantdeskSettings, desk: Platform, pool: TrialPool | None = None
) -> OptimisationService:
    """The service as ``bootstrap_research`` wires it, on an inline pool of the warm engine."""
    inline = pool or InlineTrialPool(trial_evaluator(settings))
    return OptimisationService(
        OptunaStudyBackend(settings.database),
        registry=lambda: desk.registry,
        backtests=desk.backtests,
        pools=lambda workers, ray: inline,
        records=SqlStudyRecordStore(Database(settings.database)),
        studies_dir=settings.studies_dir,
    )


def registered(desk: Platform) -> str:
    return desk.registry.register(StrategyDefinition.model_validate(TREND), "tester").stored.ref


def test_a_study_reruns_its_best_registers_it_and_resumes(settings: QuantdeskSettings) -> None:
    desk = bootstrap(settings)
    ref = registered(desk)
    service = optimiser(settings, desk)
    name = f"study-{settings.database.split(':')[0].split('+')[0]}"
    report = service.optimize(
        ref,
        space=SPACE,
        trials=6,
        objective=Objective(),
        sampler=Sampler.TPE,
        seed=3,
        study_name=name,
        register=True,
        top_k=2,
    )
    assert [t.number for t in report.trials] == list(range(6))
    complete = [t for t in report.trials if t.state is TrialState.COMPLETE]
    assert complete and all(t.fingerprint and t.metrics is not None for t in complete)
    best = max(complete, key=lambda t: (t.value or 0.0, -t.number))
    assert report.best_number == best.number
    # the best trials re-run as stored runs, and reproduce (fingerprint and fills)
    assert [r.number for r in report.reruns] == [t.number for t in report.ranked()[:2]]
    assert all(r.matched for r in report.reruns)
    for rerun in report.reruns:
        stored = desk.backtests.result(rerun.run_id)
        assert (
            stored.fingerprint
            == next(t for t in report.trials if t.number == rerun.number).fingerprint
        )
    # --register: a new version with the best parameters, its reason naming the study
    assert report.registered_ref == "trend-opt@2"
    version = desk.registry.get("trend-opt", 2).definition
    assert name in version.reason and f"#{best.number}" in version.reason
    assert (
        version.content_hash
        == apply(desk.registry.get("trend-opt", 1).definition, best.params).content_hash
    )
    # the report beside its study, quantdesk's record of it
    assert (settings.studies_dir / name / "report.json").is_file()
    record = SqlStudyRecordStore(Database(settings.database)).get(name)
    assert record is not None and record.state is StudyState.COMPLETED
    assert (record.best_number, record.registered_ref, record.space_sha256) == (
        best.number,
        "trend-opt@2",
        SPACE.sha256,
    )
    # resumed: the same study continues to 9 trials, the first six unchanged
    again = service.optimize(
        ref,
        space=SPACE,
        trials=9,
        objective=Objective(),
        sampler=Sampler.TPE,
        seed=3,
        study_name=name,
        top_k=1,
    )
    assert again.resumed and [t.number for t in again.trials] == list(range(9))
    assert again.trials[:6] == report.trials
    # a resume with other settings is refused, by code
    with pytest.raises(ConflictError) as refused:
        service.optimize(
            ref,
            space=SPACE,
            trials=9,
            objective=Objective(),
            sampler=Sampler.RANDOM,
            seed=3,
            study_name=name,
        )
    assert refused.value.code == "study_mismatch" and "sampler" in refused.value.message


def test_optunas_tables_stay_out_of_ours(settings: QuantdeskSettings) -> None:
    """Optuna migrates its schema with its own alembic_version: it would collide with ours."""
    desk = bootstrap(settings)
    optimiser(settings, desk).optimize(
        registered(desk),
        space=SPACE,
        trials=1,
        objective=Objective(),
        sampler=Sampler.RANDOM,
        seed=1,
        study_name="apart",
        top_k=0,
    )
    ours = Database(settings.database)
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None and ours.current_revision() == head
    assert "trials" not in sa.inspect(ours.engine).get_table_names()
    url, kwargs = optuna_url(settings.database)
    engine = sa.create_engine(url, **kwargs)
    try:
        names = sa.inspect(engine).get_table_names()
        assert {"trials", "studies", "alembic_version"} <= set(names)
        with engine.connect() as connection:
            optuna_version = connection.execute(
                sa.text("SELECT version_num FROM alembic_version")
            ).scalar()
        assert optuna_version != head
    finally:
        engine.dispose()
    ours.dispose()


def test_same_seed_same_trials_serial_on_two_workers_and_on_ray(
    market: Path, tmp_path: Path
) -> None:
    """The same search on this process, two warm worker processes and a local Ray instance
    (started and stopped by the test): the same points, values, fingerprints and fills."""
    pytest.importorskip("quantdesk.adapters.jobs.trial_pool")  # [H3]'s pools
    ray_cluster = pytest.importorskip("support.ray_cluster")
    settings = QuantdeskSettings(home=market, database_url=f"sqlite:///{tmp_path / 'qd.db'}")
    desk = bootstrap(settings)
    definition = desk.registry.resolve(registered(desk)).definition
    service = OptimisationService(OptunaStudyBackend())

    def trials_on(workers: int, ray: str | None) -> list[tuple[object, ...]]:
        pool = desk.research.pools.open(workers, ray)
        try:
            result = service.search(
                definition,
                SPACE,
                BacktestRequest(strategies=[definition.ref]),
                trials=5,
                objective=Objective(),
                sampler=Sampler.TPE,
                seed=5,
                pool=pool,
                key_prefix="w",
            )
        finally:
            pool.close()
        best = None if result.best is None else result.best.number
        return [
            (t.number, t.params, t.value, t.outcome.fingerprint, t.outcome.fills_sha256, best)
            for t in result.trials
        ]

    serial = trials_on(1, None)
    assert len(serial) == 5 and all(row[3] for row in serial)
    assert trials_on(2, None) == serial
    if importlib.util.find_spec("ray") is not None:
        with ray_cluster.local_ray() as address:
            assert trials_on(2, address) == serial


_CHILD = """
import sys
sys.path.insert(0, {tests!r})
from test_optimisation_study import child_study
child_study({home!r}, {db!r})
"""


def child_study(home: str, database_url: str) -> None:
    """The killed process: a 12-trial study (run by the test in a child process)."""
    settings = QuantdeskSettings(home=Path(home), database_url=database_url)
    desk = bootstrap(settings)
    optimiser(settings, desk).optimize(
        "trend-opt@1",
        space=SPACE,
        trials=12,
        objective=Objective(),
        sampler=Sampler.RANDOM,
        seed=9,
        study_name="killed",
        top_k=0,
    )


def test_a_study_killed_mid_run_resumes_to_its_trials(market: Path, tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'qd.db'}"
    settings = QuantdeskSettings(home=market, database_url=database_url)
    desk = bootstrap(settings)
    registered(desk)
    tests = str(Path(__file__).resolve().parent)
    support = str(Path(__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(quantdesk.__file__).parents[1]), support]),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD.format(tests=tests, home=str(market), db=database_url)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url, _ = optuna_url(database_url)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and child.poll() is None:
            finished, running = _trial_states(url)
            if finished >= 8 and running:  # the first batch told; the second one running
                break
            time.sleep(0.02)
        assert child.poll() is None, (child.stderr.read() if child.stderr else b"").decode()
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
    report = optimiser(settings, desk).optimize(
        "trend-opt@1",
        space=SPACE,
        trials=12,
        objective=Objective(),
        sampler=Sampler.RANDOM,
        seed=9,
        study_name="killed",
        top_k=1,
    )
    numbers = [t.number for t in report.trials]
    assert report.resumed and numbers == sorted(set(numbers))
    assert all(t.state is not TrialState.RUNNING for t in report.trials)
    stored = OptunaStudyBackend(database_url).stored("killed", SPACE, Sampler.RANDOM, 9).trials()
    zombies = [t for t in stored if t.attrs.get(ZOMBIE_ATTR) is True]
    assert len(stored) - len(zombies) == 12  # it completes to the trials asked for
    assert zombies and all(t.state is TrialState.FAIL and t.attrs.get("reason") for t in zombies)
    assert report.reruns and report.reruns[0].matched


def _trial_states(url: str) -> tuple[int, int]:
    """Trials finished and running in the Optuna file (0, 0 before it has its tables)."""
    path = Path(url.removeprefix("sqlite:///"))
    if not path.exists():
        return 0, 0
    engine = sa.create_engine(url)
    query = sa.text("SELECT state = 'RUNNING', count(*) FROM trials GROUP BY state = 'RUNNING'")
    try:
        with engine.connect() as connection:
            counts = {bool(running): int(n) for running, n in connection.execute(query)}
    except sa.exc.OperationalError:
        return 0, 0  # the tables are being created
    finally:
        engine.dispose()
    return counts.get(False, 0), counts.get(True, 0)
