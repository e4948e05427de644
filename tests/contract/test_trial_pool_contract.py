"""The TrialPool port over its three pools: in this process, warm local processes, Ray actors.

The same trend-following candidates on a tiny synthetic market must give the same outcomes
on every pool (all fields but ``wall_seconds``), in spec order, with ``on_outcome`` once per
trial; and a worker that dies under a trial fails that trial alone (the fake engine of
``support.trial_engines`` does the dying: a real engine cannot be made to segfault on cue).
"""

import json
import multiprocessing
from collections.abc import Iterator
from pathlib import Path

import pytest

from quantdesk.adapters.jobs.trial_pool import ProcessTrialPool, TrialPoolError
from quantdesk.bootstrap import bootstrap
from quantdesk.bootstrap_research import _trial_pools_config, trial_worker
from quantdesk.domain.errors import QuantdeskError
from quantdesk.domain.trials import TrialOutcome, TrialSpec
from quantdesk.services.ports.trials import TrialPool
from quantdesk.services.synthetic import SyntheticMarketConfig
from quantdesk.services.trials import InlineTrialPool
from quantdesk.settings import QuantdeskSettings
from support.ray_cluster import needs_ray, ray_address
from support.trial_engines import FAKE_FACTORY, RAY_FAKE_FACTORY
from support.trial_specs import candidate, trial

__all__ = ["ray_address"]  # the session's Ray instance (a fixture: see support.ray_cluster)

PERIODS = [(5, 20), (8, 30), (10, 50), (6, 25)]
POOLS = ["inline", "process", pytest.param("ray", marks=needs_ray)]


def _specs() -> list[TrialSpec]:
    specs = [
        trial(
            f"trend-{fast}-{slow}", candidate("trend_following", fast_period=fast, slow_period=slow)
        )
        for fast, slow in PERIODS
    ]
    # a trial the desk refuses (no bars in its window): an outcome with the error, on every pool
    far = 4_000_000_000_000_000_000
    specs.append(trial("no-data", candidate("trend_following"), start_ns=far, end_ns=far + 60))
    return specs


@pytest.fixture(scope="module")
def market_config(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A desk home with one synthetic instrument over two days; the workers' config."""
    home = tmp_path_factory.mktemp("trial-pools") / "home"
    bootstrap(home=home).synthetic.synthesize(SyntheticMarketConfig(instruments=1, days=2, seed=5))
    return _trial_pools_config(QuantdeskSettings(home=home))


@pytest.fixture(scope="module")
def serial(market_config: str) -> list[TrialOutcome]:
    """The reference: the specs one after the other in this process."""
    return InlineTrialPool(trial_worker(market_config)).run(_specs())


def _open(kind: str, config: str, address: str | None, factory: str | None = None) -> TrialPool:
    if kind == "inline":
        return InlineTrialPool(trial_worker(config))
    if kind == "process":
        return ProcessTrialPool(2, config, **({"factory": factory} if factory else {}))
    from quantdesk.adapters.jobs.ray_pool import RayTrialPool

    assert address is not None
    return RayTrialPool(address, 2, config, **({"factory": factory} if factory else {}))


@pytest.fixture
def address(request: pytest.FixtureRequest) -> str | None:
    """The Ray instance's address for the ray pool (started only when a ray case runs)."""
    kind = request.node.callspec.params["kind"]
    return str(request.getfixturevalue("ray_address")) if kind == "ray" else None


def _comparable(outcome: TrialOutcome) -> TrialOutcome:
    return outcome.model_copy(update={"wall_seconds": 0.0})


@pytest.mark.parametrize("kind", POOLS)
def test_same_specs_give_the_serial_outcomes_in_spec_order(
    kind: str, market_config: str, serial: list[TrialOutcome], address: str | None
) -> None:
    specs = _specs()
    seen: list[str] = []
    pool = _open(kind, market_config, address)
    try:
        first = pool.run(specs, on_outcome=lambda outcome: seen.append(outcome.key))
        again = pool.run(list(reversed(specs)))  # warm workers, another order of dispatch
    finally:
        pool.close()
        pool.close()  # idempotent
    assert [o.key for o in first] == [s.key for s in specs]
    assert sorted(seen) == sorted(s.key for s in specs)
    assert [_comparable(o) for o in first] == [_comparable(o) for o in serial]
    assert [_comparable(o) for o in reversed(again)] == [_comparable(o) for o in serial]
    assert all(o.ok for o in first[:-1]) and first[0].orders > 0  # the trials really traded
    assert first[-1].code == serial[-1].code is not None  # the refusal travels as an outcome


@pytest.mark.parametrize("kind", POOLS)
def test_no_specs_no_outcomes(kind: str, market_config: str, address: str | None) -> None:
    pool = _open(kind, market_config, address)
    try:
        assert pool.run([]) == []
    finally:
        pool.close()


# --- workers that die: the fake engine --------------------------------------------------------

WORKER_POOLS = ["process", pytest.param("ray", marks=needs_ray)]


def _fake_specs(*keys: str) -> list[TrialSpec]:
    definition = candidate("trend_following")
    return [trial(key, definition) for key in keys]


def _fake_pool(kind: str, address: str | None, **config: object) -> TrialPool:
    factory = FAKE_FACTORY if kind == "process" else RAY_FAKE_FACTORY
    return _open(kind, json.dumps({"slow_seconds": 0.2, **config}), address, factory)


def _gone(pid: int) -> bool:
    """No such process (reaped, not a zombie)."""
    return not Path(f"/proc/{pid}").exists()


@pytest.mark.parametrize("kind", WORKER_POOLS)
def test_a_killed_worker_fails_only_its_trial_and_is_replaced(
    kind: str, address: str | None
) -> None:
    specs = _fake_specs("a", "slow-b", "kill-c", "slow-d", "e", "f")
    pool = _fake_pool(kind, address)
    try:
        outcomes = pool.run(specs)
        later = pool.run(_fake_specs("g", "h", "i"))
    finally:
        pool.close()
    assert [o.key for o in outcomes] == [s.key for s in specs]
    killed = outcomes[2]
    assert killed.code == "worker_died" and killed.error is not None
    if kind == "process":
        assert "SIGKILL" in killed.error
    assert all(o.error is None for i, o in enumerate(outcomes) if i != 2)
    assert all(o.error is None for o in later)
    pids = {int(o.fingerprint) for o in [*outcomes, *later] if o.error is None}
    assert len(pids) >= 2  # the pool went on, on a replacement
    if kind == "process":
        assert all(_gone(pid) for pid in pids)  # closed: every worker reaped


@pytest.mark.parametrize("kind", WORKER_POOLS)
def test_a_crash_fails_its_trial_and_retires_the_worker(kind: str, address: str | None) -> None:
    pool = _fake_pool(kind, address, slow_seconds=0.0)
    try:
        outcomes = pool.run(_fake_specs("a", "crash-b", "c", "d"))
    finally:
        pool.close()
    assert outcomes[1].code == "trial_crashed"
    assert "RuntimeError: the fake engine crashed" in (outcomes[1].error or "")
    assert [o.error for i, o in enumerate(outcomes) if i != 1] == [None, None, None]


@pytest.mark.parametrize("kind", WORKER_POOLS)
def test_workers_that_cannot_build_their_engine_make_the_pool_raise(
    kind: str, address: str | None
) -> None:
    with pytest.raises(QuantdeskError) as raised:
        _fake_pool(kind, address, fail=True)
    assert raised.value.code == "trial_worker_failed"
    assert "the fake engine refuses to start" in raised.value.message
    assert raised.value.data["cause"] == "fake_refused"


class _CancelledError(Exception):
    pass


def test_an_interrupted_run_stops_its_busy_workers_and_the_pool_goes_on() -> None:
    """Ctrl-C or a cancel (an ``on_outcome`` that raises) while trials run: the busy worker
    is killed (its late outcome never reaches the next run), the next run starts a new one."""
    pool = _fake_pool("process", None, slow_seconds=30.0)
    before: list[int] = []

    def cancel(outcome: TrialOutcome) -> None:
        before.extend(_children())
        raise _CancelledError

    try:
        with pytest.raises(_CancelledError):
            pool.run(_fake_specs("a", "slow-b", "slow-c"), on_outcome=cancel)
        left = _children()
        assert len(before) == 2 and len(left) == 1 and set(left) < set(before)
        assert all(_gone(pid) for pid in set(before) - set(left))
        assert [o.error for o in pool.run(_fake_specs("d", "e"))] == [None, None]
    finally:
        pool.close()


def _children() -> list[int]:
    """The pids of this process's live trial workers."""
    return [
        p.pid
        for p in multiprocessing.active_children()
        if p.name.startswith("quantdesk-trial") and p.pid is not None
    ]


def test_the_pool_refuses_a_run_after_close() -> None:
    pool = _fake_pool("process", None)
    pool.close()
    with pytest.raises(TrialPoolError) as raised:
        pool.run(_fake_specs("a"))
    assert raised.value.code == "trial_pool_closed"


def test_process_workers_get_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = QuantdeskSettings(home=tmp_path, audit_key="k" * 40, database_url="sqlite:///x.db")
    config = json.loads(_trial_pools_config(settings))
    assert set(config) == {"home", "plugin_packages", "plugin_paths", "plugin_check_seconds"}
    assert config["home"] == str(tmp_path.resolve())
    assert Path(config["home"]).is_absolute()


@pytest.fixture(autouse=True)
def _no_leftover_workers() -> Iterator[None]:
    yield
    assert _children() == []
