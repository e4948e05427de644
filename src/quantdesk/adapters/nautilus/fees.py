"""A venue-wide commission schedule: a rate of notional (maker/taker) plus an amount per unit.

Commission of a fill = notional x rate + ``commission_per_unit`` x quantity, in the
instrument's settlement currency (its quote currency; its base currency if inverse). A rate
left None is the instrument's own; the per-unit amount is in the venue's currency, so an
instrument settling in another currency is refused rather than charged in the wrong one.
"""

from nautilus_trader.backtest.config import FeeModelConfig
from nautilus_trader.backtest.models import FeeModel
from nautilus_trader.model.enums import LiquiditySide
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.model.orders import Order


class VenueRateFeeModelConfig(FeeModelConfig, frozen=True):
    maker_fee: float | None = None
    taker_fee: float | None = None
    commission_per_unit: float = 0.0
    currency: str | None = None  # the venue's: the per-unit amount's currency


class VenueRateFeeModel(FeeModel):
    def __init__(self, config: VenueRateFeeModelConfig) -> None:
        self._maker = config.maker_fee
        self._taker = config.taker_fee
        self._per_unit = config.commission_per_unit
        self._currency = config.currency

    def get_commission(
        self, order: Order, fill_qty: Quantity, fill_px: Price, instrument: Instrument
    ) -> Money:
        notional = instrument.notional_value(
            quantity=fill_qty, price=fill_px, use_quote_for_inverse=False
        ).as_double()
        if order.liquidity_side == LiquiditySide.MAKER:
            rate = float(instrument.maker_fee) if self._maker is None else self._maker
        else:
            rate = float(instrument.taker_fee) if self._taker is None else self._taker
        currency = instrument.base_currency if instrument.is_inverse else instrument.quote_currency
        commission = notional * rate
        if self._per_unit:
            if self._currency is not None and currency.code != self._currency:
                raise ValueError(
                    f"commission_per_unit is in the venue's currency {self._currency}; "
                    f"{instrument.id} settles in {currency.code}"
                )
            commission += self._per_unit * fill_qty.as_double()
        return Money(commission, currency)
