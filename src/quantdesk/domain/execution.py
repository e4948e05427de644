"""What became of a run's orders at the engine: refusals by reason, fills against liquidity.

A run that traded nothing because every order bounced, or that paid for thin bars in split
fills, must say so in its result: these are the figures it says it with.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from quantdesk.domain.errors import InvalidInputError


class EngineRejection(BaseModel):
    """Orders the engine itself refused, by kind and reason (rejected by the venue, denied by
    its risk engine or quantdesk's margin check): never hidden behind a clean-looking run."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["rejected", "denied"]
    reason: str  # the reason's leading code (numbers and names stripped)
    count: int
    first_ts: list[int]  # the first few times (ns UTC)
    example: str  # the first full reason text


class ExecutionSummary(BaseModel):
    """How market orders met the bars' liquidity: orders filled in several parts (the
    engine fills ``max(volume / 4, 1)`` at the bar's price, the rest a tick worse) and what
    that cost against each order's first fill price, in the account currency."""

    model_config = ConfigDict(frozen=True)

    orders_filled: int
    split_orders: int
    split_fills: int  # fills after the first of a split order
    slippage: float  # > 0: paid against the first fill price


class AllOrdersRefusedError(InvalidInputError):
    """Every order a run sent was rejected or denied by the engine: its result would be a
    flat line that looks like a strategy that chose not to trade."""

    code = "all_orders_refused"

    def __init__(self, message: str, *, hint: str, data: dict[str, Any]) -> None:
        super().__init__(message, hint=hint)
        self.data = data
