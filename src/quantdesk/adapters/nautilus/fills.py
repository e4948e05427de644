"""The venue's liquidity option: fills limited by bar volume, or the whole order at the price.

With bar execution the engine's simulated book holds ``max(volume / 4, size increment)`` at
the bar's price, and a market order's remainder fills one tick worse (nautilus-notes §9.3).
``unlimited`` liquidity hands the engine a book with the whole order at the best bid and
ask instead, so every market order fills in one part at the bar's price. Limit and stop
orders keep the engine's own logic (a passive limit fills at its limit price).
"""

from nautilus_trader.backtest.models import FillModel
from nautilus_trader.model.book import OrderBook
from nautilus_trader.model.data import BookOrder
from nautilus_trader.model.enums import BookType, OrderSide, OrderType
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import Price
from nautilus_trader.model.orders import Order

_MARKET = frozenset({OrderType.MARKET, OrderType.MARKET_TO_LIMIT, OrderType.STOP_MARKET})


class UnlimitedLiquidityFillModel(FillModel):
    def get_orderbook_for_fill_simulation(
        self, instrument: Instrument, order: Order, best_bid: Price, best_ask: Price
    ) -> OrderBook | None:
        if order.order_type not in _MARKET:
            return None
        book = OrderBook(instrument_id=instrument.id, book_type=BookType.L2_MBP)
        size = order.leaves_qty
        book.add(BookOrder(side=OrderSide.BUY, price=best_bid, size=size, order_id=1), 0, 0)
        book.add(BookOrder(side=OrderSide.SELL, price=best_ask, size=size, order_id=2), 0, 0)
        return book
