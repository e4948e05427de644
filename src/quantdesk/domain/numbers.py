"""Bounded decimals: every amount a user writes fits the engine and the stores, or is refused.

A ``Decimal`` holds any size: ``1e999999`` is a few bytes until something formats it, and
then it is a megabyte of digits (a definition's canonical JSON), or an engine panic (a tick of
``1e30``). So every decimal a definition, a limit or an instrument carries is checked against
a range and a number of decimal places when it is validated, and kept in its plain form.

The limits are the engine's for its standard-precision build (NautilusTrader: 9 decimal
places, ``PRICE_MAX`` 9,223,372,036, ``QUANTITY_MAX`` 18,446,744,073); its high-precision
build allows more, so values within these fit both (an adapter test compares them).
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, Field, JsonValue
from pydantic_core import PydanticCustomError

from quantdesk.domain.text import SHOWN_MAX_LENGTH, shown

PRECISION_MAX = 9
"""Decimal places of a price or quantity."""
PRICE_MAX = Decimal("9223372036")
QUANTITY_MAX = Decimal("18446744073")
MONEY_MAX = Decimal("9223372036")
"""Balances, notionals and losses (account currency)."""
FEE_RATE_MIN = Decimal("-0.01")
FEE_RATE_MAX = Decimal("0.1")
"""A rebate of at most 1 % of notional, a fee of at most 10 % (as a backtest venue allows)."""
LIMIT_MAX = Decimal(10**15)
"""A risk limit's amount (notional, loss, exposure): compared, never held by the engine."""
LEVERAGE_MAX = Decimal(10**6)


@dataclass(frozen=True)
class DecimalRange:
    """``low < value`` (or ``<=``) ``<= high``, with at most ``places`` decimal places."""

    low: Decimal
    high: Decimal
    low_open: bool = False
    places: int = PRECISION_MAX

    def text(self) -> str:
        low = f"{self.low} < value" if self.low_open else f"{self.low} <= value"
        return f"{low} <= {self.high}, at most {self.places} decimal places"

    def problem(self, value: Decimal) -> str | None:
        """What is wrong with ``value`` in this range, or None."""
        if not value.is_finite():
            return "is not a finite number"
        if value > self.high:  # compares exponents first: cheap whatever the digit count
            return f"is above the maximum {self.high}"
        if self.low_open and value <= self.low:
            return f"is not greater than {self.low}"
        if value < self.low:
            return f"is below the minimum {self.low}"
        if decimal_places(value) > self.places:
            return f"has more than {self.places} decimal places"
        return None

    def check(self, value: Decimal, field: str | None = None) -> Decimal:
        """``value`` in its plain form (no exponent, no trailing zeros), or an error.

        Pydantic names the field in its error's location; a caller outside a model names it.
        """
        problem = self.problem(value)
        if problem is not None:
            raise PydanticCustomError(
                "decimal_out_of_range",
                "{value} {problem} (allowed: {allowed})",
                {
                    "value": _text(value) if field is None else f"{field} {_text(value)}",
                    "problem": problem,
                    "allowed": self.text(),
                },
            )
        return plain(value)


def _text(value: Decimal) -> str:
    text = str(value)
    return text if len(text) <= SHOWN_MAX_LENGTH else shown(text)


def decimal_places(value: Decimal) -> int:
    """Digits after the point once trailing zeros are dropped (``1.50`` has 1, ``1E+3`` 0)."""
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int) or exponent >= 0:
        return 0
    significant = "".join(map(str, digits)).rstrip("0")
    return max(0, -exponent - (len(digits) - len(significant)))


def plain(value: Decimal) -> Decimal:
    """The same number with no exponent and no trailing zeros: ``1E+2`` is ``100``."""
    places = decimal_places(value)
    result = value.quantize(Decimal(1).scaleb(-places)) if value else Decimal(0)
    return result if result or not result.is_signed() else Decimal(0)


def _validator(bounds: DecimalRange) -> Callable[[Decimal], Decimal]:
    def check(value: Decimal) -> Decimal:
        return bounds.check(value)

    return check


def _schema(bounds: DecimalRange) -> Any:
    """The range in the JSON schema too (``strategy schema`` shows it)."""
    extra: dict[str, JsonValue] = {"maximum": float(bounds.high)}
    extra["exclusiveMinimum" if bounds.low_open else "minimum"] = float(bounds.low)
    return Field(json_schema_extra=extra)


PRICE = DecimalRange(Decimal(0), PRICE_MAX, low_open=True)
QUANTITY = DecimalRange(Decimal(0), QUANTITY_MAX, low_open=True)
MONEY = DecimalRange(Decimal(0), MONEY_MAX, low_open=True)
LIMIT = DecimalRange(Decimal(0), LIMIT_MAX, low_open=True)
FRACTION = DecimalRange(Decimal(0), Decimal(1), low_open=True)
RATE = DecimalRange(Decimal(0), Decimal(1))
FEE_RATE = DecimalRange(FEE_RATE_MIN, FEE_RATE_MAX)
LEVERAGE = DecimalRange(Decimal(0), LEVERAGE_MAX, low_open=True)

Price = Annotated[Decimal, AfterValidator(_validator(PRICE)), _schema(PRICE)]
"""A positive price or price increment (tick)."""
Quantity = Annotated[Decimal, AfterValidator(_validator(QUANTITY)), _schema(QUANTITY)]
"""A positive quantity, size increment, lot or multiplier."""
Money = Annotated[Decimal, AfterValidator(_validator(MONEY)), _schema(MONEY)]
"""A positive amount of account currency the engine holds (a balance)."""
LimitAmount = Annotated[Decimal, AfterValidator(_validator(LIMIT)), _schema(LIMIT)]
"""A risk limit in account currency (notional, loss, exposure)."""
Fraction = Annotated[Decimal, AfterValidator(_validator(FRACTION)), _schema(FRACTION)]
"""A share in (0, 1]: a loss or drawdown as a fraction of equity."""
Rate = Annotated[Decimal, AfterValidator(_validator(RATE)), _schema(RATE)]
"""A rate in [0, 1]: margins."""
FeeRate = Annotated[Decimal, AfterValidator(_validator(FEE_RATE)), _schema(FEE_RATE)]
"""A fee rate; negative is a rebate."""
Leverage = Annotated[Decimal, AfterValidator(_validator(LEVERAGE)), _schema(LEVERAGE)]
