"""RayTrialPool's edges: Ray missing, a wrong or dead address (a clear error in seconds, not
Ray's retry loop; a port that answers but is not Ray still costs Ray's own ~40 s: untested),
whose connection it is to close, and the research root choosing the pool the settings ask
for. The pool's outcomes are the contract suite's (tests/contract/test_trial_pool_contract.py);
these tests share its local Ray instance.
"""

import json
import socket
import sys
import time
from pathlib import Path

import pytest

from quantdesk.adapters.jobs.trial_pool import ProcessTrialPool
from quantdesk.bootstrap import bootstrap
from quantdesk.bootstrap_research import _trial_pools
from quantdesk.domain.errors import InvalidInputError
from quantdesk.services.trials import InlineTrialPool
from quantdesk.settings import QuantdeskSettings
from support.ray_cluster import needs_ray, ray_address
from support.trial_engines import RAY_FAKE_FACTORY
from support.trial_specs import candidate, trial

__all__ = ["ray_address"]  # the session's Ray instance (a fixture: see support.ray_cluster)


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_ray_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from quantdesk.adapters.jobs.ray_pool import RayTrialPool

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(InvalidInputError) as raised:
        RayTrialPool("auto", 2, "{}")
    assert raised.value.code == "ray_missing"
    assert "ray" in (raised.value.hint or "")


@needs_ray
def test_an_address_nothing_listens_on_is_refused_by_name(closed_port: int) -> None:
    from quantdesk.adapters.jobs.ray_pool import RayTrialPool

    address = f"127.0.0.1:{closed_port}"
    with pytest.raises(InvalidInputError) as raised:
        RayTrialPool(address, 1, "{}", connect_timeout_seconds=2)
    assert raised.value.code == "ray_unreachable"
    assert raised.value.data == {"address": address}
    assert address in raised.value.message


@needs_ray
@pytest.mark.parametrize("address", ["nonsense", "host:port", ":123"])
def test_an_address_of_another_shape_is_refused(address: str) -> None:
    from quantdesk.adapters.jobs.ray_pool import RayTrialPool

    with pytest.raises(InvalidInputError) as raised:
        RayTrialPool(address, 1, "{}")
    assert raised.value.code == "ray_address_invalid"


def _free_cpus(ray: object, want: float) -> float:
    """The cluster's free CPUs once they reach ``want`` (actors release theirs a moment
    after they are killed), or what they are after a few seconds."""
    deadline = time.monotonic() + 20
    while True:
        free = float(ray.available_resources().get("CPU", 0.0))  # type: ignore[attr-defined]
        if free >= want or time.monotonic() > deadline:
            return free
        time.sleep(0.1)


@needs_ray
def test_close_kills_the_actors_and_leaves_a_connection_it_did_not_make(
    ray_address: str,
) -> None:
    import ray

    from quantdesk.adapters.jobs.ray_pool import RayTrialPool

    ray.init(address=ray_address, logging_level="WARNING", log_to_driver=False)
    try:
        pool = RayTrialPool(ray_address, 2, json.dumps({}), factory=RAY_FAKE_FACTORY)
        assert float(ray.available_resources().get("CPU", 0.0)) == 0.0  # one CPU per actor
        assert [o.error for o in pool.run([trial("a", candidate("trend_following"))])] == [None]
        pool.close()
        pool.close()
        assert ray.is_initialized()  # the test's connection, not the pool's
        assert _free_cpus(ray, 2.0) == 2.0  # the actors are gone
    finally:
        ray.shutdown()


@needs_ray
def test_a_pool_that_connected_disconnects(ray_address: str) -> None:
    import ray

    from quantdesk.adapters.jobs.ray_pool import RayTrialPool

    pool = RayTrialPool(ray_address, 1, json.dumps({}), factory=RAY_FAKE_FACTORY)
    assert ray.is_initialized()
    pool.close()
    assert not ray.is_initialized()


@pytest.mark.parametrize("setting", [False, pytest.param(True, marks=needs_ray)])
def test_the_research_root_opens_the_pool_asked_for(
    tmp_path: Path, request: pytest.FixtureRequest, setting: bool
) -> None:
    """workers 1 -> this process (one engine for the platform's pools), > 1 -> processes,
    a Ray address (the call's or the settings') -> Ray actors."""
    settings = QuantdeskSettings(home=tmp_path / "home")
    platform = bootstrap(settings)
    if setting:
        from quantdesk.adapters.jobs.ray_pool import RayTrialPool

        address = str(request.getfixturevalue("ray_address"))
        by_setting = settings.model_copy(update={"ray_address": address})
        pool = _trial_pools(by_setting, platform).open(1, None)
        try:
            assert isinstance(pool, RayTrialPool) and pool.workers == 1
        finally:
            pool.close()
        return
    pools = _trial_pools(settings, platform)
    inline = pools.open(1, None)
    assert isinstance(inline, InlineTrialPool)
    assert inline._evaluator is pools.open(1, None)._evaluator  # type: ignore[attr-defined]
    local = pools.open(2, None)
    try:
        assert isinstance(local, ProcessTrialPool) and local.workers == 2
    finally:
        local.close()
