"""Rolling a position along a chain of futures: which contract is active, when it rolls, and
what a roll leaves in the run's record.

A chain is the futures of one root on one venue (``ES.XCME``: ``ESH4.XCME``, ``ESM4.XCME``,
...; the instruments' ``underlying`` is the root), in expiration order. A family strategy
trading a chain sees it as one instrument (the id of its earliest contract in the run) with
one continuous bar series: the active contract's bars, spliced at each roll without
back-adjustment (prices jump by the calendar spread at a roll; indicators see the jump). At a
roll the strategy's position in the old contract is closed and the same signed quantity
opened in the next, by two market orders through the risk gate, tagged as roll trades.

Rules (``RollRule.method``):

- ``days_before_expiry``: roll at the first bar of the chain at or after the active
  contract's expiration minus ``days`` (a fraction of a day is allowed).
- ``volume``: at the first bar of a new UTC day, roll when the next contract's volume over the
  previous day exceeds the active one's. Open interest is not a rule: bars do not carry it.

Whatever the rule, a contract that expires unrolled is settled at expiry (``expiry.py``) and
the chain moves on to the next contract flat.
"""

from collections.abc import Iterable, Sequence
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from quantdesk.domain.backtest_records import FillRecord
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.expiry import FillKind
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.record_log import as_log

DAY_NS = 86_400_000_000_000
_CHAINED = frozenset({AssetClass.FUTURE, AssetClass.CRYPTO_FUTURE})
DAYS_MAX = Decimal(3660)
ROLLS_MAX = 100


class RollMethod(StrEnum):
    DAYS_BEFORE_EXPIRY = "days_before_expiry"
    VOLUME = "volume"


class RollRule(BaseModel):
    """How a run rolls one chain (``chain``: ``ROOT.VENUE``, e.g. ``ES.XCME``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    chain: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9/\-_^:]*\.[A-Za-z0-9][A-Za-z0-9_\-]*$")
    method: RollMethod = RollMethod.DAYS_BEFORE_EXPIRY
    days: Decimal | None = Field(
        default=None,
        gt=0,
        le=DAYS_MAX,
        description="days_before_expiry: how long before the active contract's expiration",
    )

    @model_validator(mode="after")
    def _check_days(self) -> "RollRule":
        if self.method is RollMethod.DAYS_BEFORE_EXPIRY and self.days is None:
            raise ValueError("a days_before_expiry roll needs days (e.g. 5)")
        if self.method is RollMethod.VOLUME and self.days is not None:
            raise ValueError("a volume roll takes no days")
        return self

    @property
    def root(self) -> str:
        return self.chain.rsplit(".", 1)[0]

    @property
    def venue(self) -> str:
        return self.chain.rsplit(".", 1)[1]

    @property
    def offset_ns(self) -> int:
        """How long before the expiration a days rule rolls (0 for the volume rule)."""
        return 0 if self.days is None else int(self.days * DAY_NS)

    def describe(self) -> str:
        if self.method is RollMethod.VOLUME:
            return f"{self.chain}: when the next contract's daily volume exceeds the active's"
        return f"{self.chain}: {self.days:f} day(s) before the active contract's expiration"


def chain_contracts(rule: RollRule, specs: Iterable[InstrumentSpec]) -> list[InstrumentSpec]:
    """The chain's contracts among ``specs``, in expiration order."""
    members = [
        s
        for s in specs
        if s.asset_class in _CHAINED
        and s.venue == rule.venue
        and (s.underlying == rule.root or s.base_currency == rule.root)
    ]
    return sorted(members, key=lambda s: (s.expiration_ns or 0, s.instrument_id))


def check_rolls(rules: Sequence[RollRule], specs: Sequence[InstrumentSpec]) -> None:
    """Each chain rolled once, and present in the run: a roll rule matching no contract would
    do nothing, silently."""
    seen: set[str] = set()
    for rule in rules:
        if rule.chain in seen:
            raise InvalidInputError(f"chain {rule.chain} has two roll rules")
        seen.add(rule.chain)
        if not chain_contracts(rule, specs):
            futures = sorted(
                f"{s.underlying or s.base_currency}.{s.venue}"
                for s in specs
                if s.asset_class in _CHAINED
            )
            raise InvalidInputError(
                f"no contract of chain {rule.chain} in the run",
                hint=f"the run's futures chains: {', '.join(sorted(set(futures))) or 'none'}",
            )


class Roll(BaseModel):
    """One roll of a strategy's position: the old contract closed, the next one opened.

    ``quantity``: the signed position carried (+ long); ``to_instrument`` is None when the
    opening order was denied or did not fill (the position was closed, not carried).
    """

    model_config = ConfigDict(frozen=True)

    strategy_id: str
    ts_ns: int
    from_instrument: str
    to_instrument: str | None
    quantity: float
    close_price: float
    open_price: float | None


def rolls_of(fills: Sequence[FillRecord]) -> list[Roll]:
    """The run's rolls from its fills of kind roll. Per strategy and instant, the contract the
    roll fills leave flat is the one rolled from, the other the one rolled to; each leg's
    price is its fills' quantity-weighted average (a leg may fill in parts)."""
    log = as_log(FillRecord, fills)
    if FillKind.ROLL not in set(log.column("kind")):
        return []
    held: dict[tuple[str, str], float] = {}
    groups: dict[tuple[str, int], dict[str, list[FillRecord]]] = {}
    after: dict[tuple[str, int, str], float] = {}
    for fill in log:
        key = (fill.strategy_id, fill.instrument_id)
        held[key] = held.get(key, 0.0) + fill.side * fill.quantity
        if fill.kind == FillKind.ROLL:
            group = groups.setdefault((fill.strategy_id, fill.ts_ns), {})
            group.setdefault(fill.instrument_id, []).append(fill)
            after[(fill.strategy_id, fill.ts_ns, fill.instrument_id)] = held[key]
    rolls = []
    for (strategy_id, ts_ns), legs in groups.items():
        flat = [i for i in legs if after[(strategy_id, ts_ns, i)] == 0]
        opened = [i for i in legs if i not in flat]
        for index, old in enumerate(flat):
            new = opened[index] if index < len(opened) else None
            rolls.append(
                Roll(
                    strategy_id=strategy_id,
                    ts_ns=ts_ns,
                    from_instrument=old,
                    to_instrument=new,
                    quantity=-_signed(legs[old]),
                    close_price=_average_price(legs[old]),
                    open_price=None if new is None else _average_price(legs[new]),
                )
            )
    return rolls


def _signed(fills: list[FillRecord]) -> float:
    return sum(f.side * f.quantity for f in fills)


def _average_price(fills: list[FillRecord]) -> float:
    quantity = sum(f.quantity for f in fills)
    return sum(f.price * f.quantity for f in fills) / quantity
