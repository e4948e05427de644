"""``optimize --screen``: rank the whole grid with the vectorised screen, confirm the leaders.

Where a family admits it (``screens.SCREENABLE``: trend following, mean reversion), the
numpy screen scores every grid point on the bar closes in seconds; only the best ``trials``
of them become the study's trials, run event-driven like any other (the screen proposes,
the engine decides). The screen's own decisions equal the engine's (``screens``' test).
"""

import importlib
import itertools
import time
from collections.abc import Callable
from typing import Any

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.market_data import BarSpec, bar_type_id
from quantdesk.domain.optimisation.space import Params, SearchSpace
from quantdesk.domain.optimisation.study import Objective, ScreenedCandidate, ScreenSummary
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.services.columns import Float64Array, Int64Array

Closes = Callable[[str, int, int], tuple[Int64Array, Float64Array]]
"""The catalog's close times and prices of a bar type in an inclusive range."""

GRID_MAX = 200_000  # points one screen may rank (memory: a few arrays of the closes each)
LEADERS_SHOWN = 20
_START_EQUITY = 1_000_000.0  # the default venue's starting balance
_END = 2**63 - 1


def _screens() -> Any:
    """[H8]'s screens, by name until the package lands (then a plain import)."""
    return importlib.import_module("quantdesk.services.optimisation.screens")


def grid_points(space: SearchSpace) -> list[Params]:
    try:
        size = space.grid_size()
        if size > GRID_MAX:
            raise ValueError(f"the grid has {size} points, more than a screen ranks ({GRID_MAX})")
        axes = [[(p.name, v) for v in p.grid()] for p in space.parameters]
    except ValueError as error:
        raise InvalidInputError(str(error), code="invalid_space") from None
    return [dict(point) for point in itertools.product(*axes)]


def screen_leaders(
    definition: StrategyDefinition,
    space: SearchSpace,
    objective: Objective,
    closes: Closes,
    *,
    leaders: int,
    start_ns: int | None,
    end_ns: int | None,
) -> tuple[list[Params], ScreenSummary]:
    """The ``leaders`` best grid points by the screen (best first) and what it did."""
    screens = _screens()
    if definition.family.value not in {str(f) for f in screens.SCREENABLE}:
        raise InvalidInputError(
            f"the {definition.family.value} family has no vectorised screen",
            hint="optimise it without the screen",
            code="not_screenable",
            data={"family": definition.family.value},
        )
    started = time.perf_counter()
    grid = grid_points(space)
    bar_type = bar_type_id(definition.instruments[0], BarSpec.parse(definition.bar_spec))
    ts, prices = closes(bar_type, start_ns or 0, end_ns if end_ns is not None else _END)
    rows = screens.screen(
        definition, space, grid, ts, prices, start_equity=_START_EQUITY, objective=objective
    )
    ranked = sorted(
        (row for row in rows if row.value is not None),
        key=lambda row: -float(row.value),
    )
    chosen = [dict(row.params) for row in ranked[:leaders]]
    summary = ScreenSummary(
        candidates=len(grid),
        confirmed=len(chosen),
        wall_seconds=time.perf_counter() - started,
        leaders=[
            ScreenedCandidate(params=dict(row.params), value=float(row.value))
            for row in ranked[:LEADERS_SHOWN]
        ],
    )
    return chosen, summary
