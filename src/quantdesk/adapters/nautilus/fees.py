"""A venue-wide maker/taker fee schedule, overriding the instruments' own rates."""

from nautilus_trader.backtest.config import FeeModelConfig
from nautilus_trader.backtest.models import FeeModel
from nautilus_trader.model.enums import LiquiditySide
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.model.orders import Order


class VenueRateFeeModelConfig(FeeModelConfig, frozen=True):
    maker_fee: float
    taker_fee: float


class VenueRateFeeModel(FeeModel):
    """Commission = notional x rate, in the instrument's quote (or base if inverse) currency."""

    def __init__(self, config: VenueRateFeeModelConfig) -> None:
        self._maker = config.maker_fee
        self._taker = config.taker_fee

    def get_commission(
        self, order: Order, fill_qty: Quantity, fill_px: Price, instrument: Instrument
    ) -> Money:
        notional = instrument.notional_value(
            quantity=fill_qty, price=fill_px, use_quote_for_inverse=False
        ).as_double()
        rate = self._maker if order.liquidity_side == LiquiditySide.MAKER else self._taker
        currency = instrument.base_currency if instrument.is_inverse else instrument.quote_currency
        return Money(notional * rate, currency)
