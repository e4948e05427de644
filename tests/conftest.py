"""Shared fixtures: a fresh desk per test, instruments, CSV writers, service switches."""

from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.services.platform import Platform


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
