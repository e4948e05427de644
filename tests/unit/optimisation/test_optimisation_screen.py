"""``optimize --screen`` without an engine: a stand-in for the vectorised screen ranks the
grid, its leaders become the study's first trials (scored by a fake pool), and a family
without a screen is refused by code. The screen itself is tested by its owner (decisions
equal to the engine's)."""

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest
from test_optimisation_search import FakePool

from quantdesk.adapters.optimisation.optuna_study import OptunaStudyBackend
from quantdesk.adapters.storage.database import Database, sqlite_url
from quantdesk.adapters.storage.study_records import SqlStudyRecordStore
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.optimisation.space import ParameterRange, Params, SearchSpace
from quantdesk.domain.optimisation.study import Objective, Sampler
from quantdesk.services.backtests import BacktestService
from quantdesk.services.optimisation import screening
from quantdesk.services.optimisation.service import OptimisationService
from support.registry import registry_on, trend

SPACE = SearchSpace(
    family="trend_following",
    parameters=(
        ParameterRange(name="fast_period", kind="int", low=4, high=12, step=2),
        ParameterRange(name="slow_period", kind="int", low=20, high=40, step=10),
    ),
)


def screened_value(params: Params) -> float:
    return float(params["fast_period"] or 0) * 10 - float(params["slow_period"] or 0)


class Row(SimpleNamespace):
    params: Params
    value: float | None


def fake_screens(families: set[str]) -> Any:
    def screen(
        definition: Any, space: Any, grid: list[Params], ts: Any, closes: Any, **_: Any
    ) -> list[Row]:
        assert len(ts) == len(closes) == 3  # the catalog's closes reached the screen
        return [Row(params=p, value=screened_value(p)) for p in grid]

    return SimpleNamespace(SCREENABLE=families, screen=screen)


def service(tmp_path: Path) -> tuple[OptimisationService, str]:
    url = sqlite_url(tmp_path / "qd.db")
    registry, _, _ = registry_on(url)
    ref = registry.register(trend("trend-s"), "tester").stored.ref
    closes = lambda bar_type, start, end: (np.arange(3, dtype=np.int64), np.ones(3))  # noqa: E731
    return OptimisationService(
        OptunaStudyBackend(url),
        registry=lambda: registry,
        backtests=cast(BacktestService, object()),  # top_k=0: nothing is re-run
        pools=lambda workers, ray: FakePool(workers),
        records=SqlStudyRecordStore(Database(url)),
        closes=closes,
    ), ref


def test_the_screens_leaders_are_the_studys_trials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(screening, "_screens", lambda: fake_screens({"trend_following"}))
    optimiser, ref = service(tmp_path)
    report = optimiser.optimize(
        ref,
        space=SPACE,
        trials=4,
        objective=Objective(),
        sampler=Sampler.TPE,
        seed=1,
        screen=True,
        top_k=0,
    )
    grid = screening.grid_points(SPACE)
    leaders = sorted(grid, key=lambda p: -screened_value(p))[:4]
    assert [t.params for t in report.trials] == leaders
    assert report.screened is not None
    assert (report.screened.candidates, report.screened.confirmed) == (len(grid), 4)
    assert report.screened.leaders[0].params == leaders[0]


def test_a_family_without_a_screen_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(screening, "_screens", lambda: fake_screens({"mean_reversion"}))
    optimiser, ref = service(tmp_path)
    with pytest.raises(InvalidInputError) as refused:
        optimiser.optimize(
            ref,
            space=SPACE,
            trials=4,
            objective=Objective(),
            sampler=Sampler.TPE,
            seed=1,
            screen=True,
            top_k=0,
        )
    assert refused.value.code == "not_screenable"
