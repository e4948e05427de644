"""Shared fixtures: a fresh desk per test, instruments, CSV writers, service switches."""

from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.services.platform import Platform


@pytest.fixture(autouse=True)
def _no_smoke_run_on_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations are validated without the smoke backtest (a child process, ~4 s each):
    the tests of that run ask for it themselves (``validation_smoke=True``)."""
    monkeypatch.setenv("QUANTDESK_VALIDATION_SMOKE", "false")


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
