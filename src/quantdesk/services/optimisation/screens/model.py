"""What a screen says: the orders a family would send, and a grid point's estimated score."""

from dataclasses import dataclass
from enum import StrEnum

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.optimisation.space import Params


class DecisionAction(StrEnum):
    ENTER_LONG = "enter_long"
    ENTER_SHORT = "enter_short"
    EXIT_LONG = "exit_long"
    EXIT_SHORT = "exit_short"
    FLIP_TO_LONG = "flip_to_long"  # close the short, then open a long: two orders
    FLIP_TO_SHORT = "flip_to_short"


_SIDES: dict[DecisionAction, tuple[int, ...]] = {
    DecisionAction.ENTER_LONG: (1,),
    DecisionAction.ENTER_SHORT: (-1,),
    DecisionAction.EXIT_LONG: (-1,),
    DecisionAction.EXIT_SHORT: (1,),
    DecisionAction.FLIP_TO_LONG: (1, 1),
    DecisionAction.FLIP_TO_SHORT: (-1, -1),
}

POSITION_AFTER: dict[DecisionAction, int] = {
    DecisionAction.ENTER_LONG: 1,
    DecisionAction.ENTER_SHORT: -1,
    DecisionAction.EXIT_LONG: 0,
    DecisionAction.EXIT_SHORT: 0,
    DecisionAction.FLIP_TO_LONG: 1,
    DecisionAction.FLIP_TO_SHORT: -1,
}


def action_between(before: int, after: int) -> DecisionAction:
    """The action taking the position from ``before`` to ``after`` (signs; they differ)."""
    if before == 0:
        return DecisionAction.ENTER_LONG if after > 0 else DecisionAction.ENTER_SHORT
    if after == 0:
        return DecisionAction.EXIT_LONG if before > 0 else DecisionAction.EXIT_SHORT
    return DecisionAction.FLIP_TO_LONG if after > 0 else DecisionAction.FLIP_TO_SHORT


@dataclass(frozen=True, slots=True)
class Decision:
    """What the strategy does at the bar closing at ``ts_ns``."""

    ts_ns: int
    action: DecisionAction

    @property
    def order_sides(self) -> tuple[int, ...]:
        """The market orders it sends, in order (+1 buy, -1 sell): a flip is two."""
        return _SIDES[self.action]

    @property
    def position(self) -> int:
        """The position's sign once its orders fill."""
        return POSITION_AFTER[self.action]


@dataclass(frozen=True, slots=True)
class ScreenRow:
    """One grid point, scored on close-to-close pnl (an estimate: no fill model, no fees).

    ``value`` is the objective (None: infeasible point, or no value, e.g. no trades);
    ``reason`` says why a point was not scored.
    """

    params: Params
    value: float | None
    trades: int
    total_return: float | None
    sharpe: float | None
    reason: str | None = None


def not_screenable(parameter: str, value: object, why: str) -> InvalidInputError:
    return InvalidInputError(
        f"the screen cannot replicate {parameter}={value!r} exactly: {why}",
        hint="optimise without the screen, or fix that parameter",
        code="not_screenable",
        data={"parameter": parameter, "value": str(value)},
    )
