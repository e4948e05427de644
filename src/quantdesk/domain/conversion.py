"""One base currency: where a run's rates from a quote currency into its account's come from.

A venue accounts in one currency (its ``base_currency``); an instrument whose PnL is in
another currency C is converted at the rate of an FX pair the catalog holds bars of: a pair
``C/B`` (its closes are B per C: the rate) or ``B/C`` (C per B: the rate is ``1 / close``).
A *rate* is always base units per unit of C; the base currency's own rate is 1.

The rate at an instant t is the close of the pair's last bar at or before t (bar closes are
their timestamps). A run is refused before it starts when a rate would be missing at any of
its instrument's bars, so no rate is ever guessed, back-filled or zero.
"""

from pydantic import BaseModel, ConfigDict, Field


class RateSource(BaseModel):
    """The pair bars that convert ``currency`` into ``base_currency`` during a run."""

    model_config = ConfigDict(frozen=True)

    currency: str = Field(description="the currency converted from (instruments' PnL currency)")
    base_currency: str = Field(description="the venue's account currency")
    bar_type: str = Field(description="the FX pair's bars, e.g. USD/JPY.SIM-1-MINUTE-MID-EXTERNAL")
    inverted: bool = Field(description="the pair is BASE/CURRENCY: a rate is 1 / close")
    streamed: bool = Field(
        default=False, description="the run streams these bars anyway (a traded pair)"
    )
    instruments: tuple[str, ...] = Field(default=(), description="the instruments it converts")

    @property
    def key(self) -> tuple[str, str]:
        return (self.currency, self.base_currency)


class ConversionUsed(BaseModel):
    """A result's record of one rate series: which bars, and what the run read of them."""

    model_config = ConfigDict(frozen=True)

    currency: str
    base_currency: str
    bar_type: str
    inverted: bool
    instruments: list[str]
    points: int = Field(description="rate bars read over the run's range")
    first_ts: int
    last_ts: int
    first_rate: float = Field(description="base per unit of currency at the first point")
    last_rate: float
    fills: int = Field(default=0, description="fills converted at these rates")
