"""Dated contracts in a run: the trading window, the price a contract settles at, and how a
fill says it was a settlement or a roll rather than a strategy's own trade.

- A contract trades from ``activation_ns`` (inclusive) to ``expiration_ns`` (inclusive, as the
  engine's matching engine has it). An order outside is denied by the quantdesk gate with
  :attr:`RiskRule.INSTRUMENT_NOT_ACTIVE` or :attr:`RiskRule.INSTRUMENT_EXPIRED`, before the
  engine would reject it; a run whose range lies wholly outside a contract's window is refused
  before it runs (it could never trade it).
- A position open at expiration is settled in cash at the final price: a future (or crypto
  future) at its last close at or before expiration, an option at its intrinsic value
  ``max(0, S - K)`` (call) or ``max(0, K - S)`` (put) against the underlying's last close S at
  or before expiration. The settlement is a fill like any other (the engine's position books
  its PnL: price change x multiplier x quantity), tagged so the run can tell it apart.
"""

from collections.abc import Collection, Iterable, Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from quantdesk.domain.backtest_records import FillRecord, PositionRecord
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.record_log import as_log
from quantdesk.domain.risk import RiskRule
from quantdesk.domain.time import ns_to_text

SETTLEMENT_TAG = "QD_SETTLEMENT"
"""Order tag of a settlement at expiry (quantdesk's own, at the final price)."""
ROLL_TAG = "QD_ROLL"
"""Order tag of the two orders of a roll from one contract of a chain to the next."""
_ENGINE_EXPIRY_PREFIX, _ENGINE_EXPIRY_SUFFIX = "EXPIRATION_", "_CLOSE"


class FillKind(StrEnum):
    """Why a fill happened, when it was not a strategy's own decision (None: its own)."""

    SETTLEMENT = "settlement"
    ROLL = "roll"


def fill_kind(tags: Iterable[str] | None) -> FillKind | None:
    """The kind an order's tags give its fills: quantdesk's settlement and roll tags, and the
    engine's own expiration close (``EXPIRATION_<venue>_CLOSE``), which is a settlement too."""
    for tag in tags or ():
        if tag == SETTLEMENT_TAG or (
            tag.startswith(_ENGINE_EXPIRY_PREFIX) and tag.endswith(_ENGINE_EXPIRY_SUFFIX)
        ):
            return FillKind.SETTLEMENT
        if tag == ROLL_TAG:
            return FillKind.ROLL
    return None


def window_breach(
    now_ns: int, activation_ns: int, expiration_ns: int
) -> tuple[RiskRule, str] | None:
    """The rule an order at ``now_ns`` breaks on a contract trading activation..expiration
    (both inclusive), with the detail the denial shows; None inside the window."""
    if now_ns < activation_ns:
        return RiskRule.INSTRUMENT_NOT_ACTIVE, f"not active until {ns_to_text(activation_ns)} UTC"
    if now_ns > expiration_ns:
        return RiskRule.INSTRUMENT_EXPIRED, f"expired at {ns_to_text(expiration_ns)} UTC"
    return None


def check_run_window(
    spec: InstrumentSpec, start_ns: int, end_ns: int, instruments: Collection[str]
) -> None:
    """A run that could never trade a contract (its range wholly after the expiration or
    before the activation) is an input error naming the contract and its dates; so is an
    option expiring within the run whose underlying the run does not stream (``instruments``):
    it could not be settled at its intrinsic value."""
    if not spec.is_dated or spec.expiration_ns is None:
        return
    underlying = spec.underlying
    if (
        spec.asset_class is AssetClass.OPTION
        and underlying is not None
        and spec.expiration_ns <= end_ns
        and underlying not in instruments
    ):
        raise InvalidInputError(
            f"option {spec.instrument_id} expires at {ns_to_text(spec.expiration_ns)} UTC, "
            f"within the run, but its underlying {underlying} is not in the run: it could "
            "not be settled at its intrinsic value",
            hint=f"add {underlying} to the strategy's instruments, or end the run before "
            "the expiry",
        )
    activation = spec.activation_ns or 0
    span = f"{ns_to_text(start_ns)} to {ns_to_text(end_ns)}"
    if start_ns > spec.expiration_ns:
        raise InvalidInputError(
            f"{spec.instrument_id} expired at {ns_to_text(spec.expiration_ns)} UTC, before the "
            f"run's range ({span}) starts: it cannot be traded in it",
            hint="run an earlier range, or trade a later contract of the chain",
        )
    if end_ns < activation:
        raise InvalidInputError(
            f"{spec.instrument_id} is not active until {ns_to_text(activation)} UTC, after the "
            f"run's range ({span}) ends: it cannot be traded in it",
            hint="run a later range, or trade an earlier contract of the chain",
        )


class Settlement(BaseModel):
    """A position settled at expiry: the settling fill and the round trip it closed.

    ``quantity``: the signed position settled (+ long); ``price``: the final price (an
    option's intrinsic value); ``pnl``: the closed round trip's realised PnL, net of its
    commissions, in the instrument's currency (price change x multiplier x quantity).
    """

    model_config = ConfigDict(frozen=True)

    strategy_id: str
    instrument_id: str
    ts_ns: int
    price: float
    quantity: float
    pnl: float | None = Field(
        default=None, description="realised PnL of the round trip it closed (None: not found)"
    )


def settlements_of(
    fills: Sequence[FillRecord], positions: Sequence[PositionRecord]
) -> list[Settlement]:
    """The run's settlement fills, each with the round trip it closed (the position record
    of the same position id closed at the fill's instant)."""
    log = as_log(FillRecord, fills)
    kinds = log.column("kind")
    rows = [row for row, kind in enumerate(kinds) if kind == FillKind.SETTLEMENT]
    if not rows:
        return []
    closed = {(p.position_id, p.closed_ns): p.realized_pnl for p in positions}
    settlements = []
    for row in rows:
        fill = log[row]
        settlements.append(
            Settlement(
                strategy_id=fill.strategy_id,
                instrument_id=fill.instrument_id,
                ts_ns=fill.ts_ns,
                price=fill.price,
                quantity=-fill.side * fill.quantity,
                pnl=closed.get((fill.position_id, fill.ts_ns)),
            )
        )
    return settlements
