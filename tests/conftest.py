"""Shared fixtures: a fresh desk per test, instruments, CSV writers, service switches."""

import gc
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.services.platform import Platform


def _settle_heap() -> None:
    """Collect, then move what survived (modules, collected tests, session fixtures) out of
    the cyclic collector's sight: every in-process backtest ends with a full ``gc.collect``
    (``release_freed_memory``), and a test process holds several times the objects of a
    desk's, all of which a full collection would walk again each run. Cycles made after
    this point are collected as before; frozen objects still go when no longer referenced."""
    gc.collect()
    gc.freeze()


def pytest_collection_finish(session: pytest.Session) -> None:
    _settle_heap()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    yield
    if nextitem is None or getattr(nextitem, "module", None) is not getattr(item, "module", None):
        _settle_heap()  # the module's fixtures are torn down: what is left lives on


@pytest.fixture(autouse=True, scope="session")
def _no_smoke_run_on_registration() -> Iterator[None]:
    """Registrations are validated without the smoke backtest (a child process, ~2-4 s each):
    the tests of that run ask for it themselves (``validation_smoke=True``). Session-wide,
    so that module-scoped desks (built before any function-scoped fixture) are covered too."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUANTDESK_VALIDATION_SMOKE", "false")
        yield


@pytest.fixture
def desk(tmp_path: Path) -> Platform:
    return bootstrap(home=tmp_path / "home")


@pytest.fixture
def equity() -> InstrumentSpec:
    return InstrumentSpec(
        instrument_id="ACME.XNAS",
        asset_class=AssetClass.EQUITY,
        currency="USD",
        tick_size=Decimal("0.01"),
    )


@pytest.fixture
def desk_with_equity(desk: Platform, equity: InstrumentSpec) -> Platform:
    desk.instruments.add(equity)
    return desk


Row = Sequence[object]


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(1_000_000))

    def write(
        rows: Sequence[Row],
        header: Sequence[str] = ("timestamp", "open", "high", "low", "close", "volume"),
        name: str | None = None,
    ) -> Path:
        path = tmp_path / (name or f"bars-{next(counter)}.csv")
        lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
        path.write_text("\n".join(lines) + "\n")
        return path

    return write
