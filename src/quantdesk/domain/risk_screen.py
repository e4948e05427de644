"""A float screen in front of ``check_order``: approve at once what is far inside every limit.

``check_order`` is exact (Decimal) and explains every breach, which costs tens of microseconds
an order. Almost every order of a working strategy is nowhere near a limit, so the gate first
asks this screen, in floats, whether the order keeps every rule with a margin of one part in
a billion; only when it cannot say so (a value near or past a bound, a state that is not
ACTIVE, a quantity that is not a whole number of increments) does the exact check run. The
margin is far wider than any float rounding of the same numbers, so the screen never approves
an order the exact check would deny or reduce: property-tested against ``check_order``. The
screen only approves orders that end within every limit; an order that takes a breached value
back toward its limit (which the exact check allows) is left to the exact check.

The marks loss rules measure from (start-of-day equity, high-water marks) are kept here too,
as floats like the book the engine's guard samples, with the same rule as ``check_order``: a
loss or drawdown equal to its limit is a breach.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from quantdesk.domain.instruments import AssetClass
from quantdesk.domain.risk import RiskConstraints, RiskLimits, RiskRule
from quantdesk.domain.risk_values import AssetClassLimits

MARGIN = 1e-9


@dataclass(frozen=True, slots=True)
class ScreenLimits:
    """One scope's limits as floats, converted once per run rather than once per order."""

    max_position: float | None = None
    max_order_quantity: float | None = None
    max_order_notional: float | None = None
    max_open_orders: int | None = None
    max_daily_loss: float | None = None
    max_daily_loss_pct: float | None = None
    max_drawdown_pct: float | None = None
    allowed_instruments: frozenset[str] | None = None
    long_only: bool = False
    max_gross_exposure: float | None = None
    max_net_exposure: float | None = None
    max_leverage: float | None = None
    asset_classes: Mapping[AssetClass, "ScreenLimits"] = field(default_factory=dict)

    @classmethod
    def of(cls, limits: RiskConstraints | RiskLimits | None) -> "ScreenLimits":
        if limits is None:
            return cls()
        portfolio = limits if isinstance(limits, RiskLimits) else None
        return cls(
            max_position=_number(limits.max_position),
            max_order_quantity=_number(limits.max_order_quantity),
            max_order_notional=_number(limits.max_order_notional),
            max_open_orders=limits.max_open_orders,
            max_daily_loss=_number(limits.max_daily_loss),
            max_daily_loss_pct=_number(limits.max_daily_loss_pct),
            max_drawdown_pct=_number(limits.max_drawdown_pct),
            allowed_instruments=limits.allowed_instruments,
            long_only=limits.long_only,
            max_gross_exposure=_number(portfolio.max_gross_exposure) if portfolio else None,
            max_net_exposure=_number(portfolio.max_net_exposure) if portfolio else None,
            max_leverage=_number(portfolio.max_leverage) if portfolio else None,
            asset_classes={k: cls.of_class(v) for k, v in portfolio.asset_classes.items()}
            if portfolio
            else {},
        )

    @classmethod
    def of_class(cls, limits: AssetClassLimits) -> "ScreenLimits":
        return cls(
            max_position=_number(limits.max_position),
            max_gross_exposure=_number(limits.max_gross_exposure),
            max_net_exposure=_number(limits.max_net_exposure),
            max_leverage=_number(limits.max_leverage),
        )


def _number(value: object) -> float | None:
    return None if value is None else float(str(value))


@dataclass(frozen=True, slots=True)
class ScreenBook:
    """The same book ``RiskState`` describes, in floats (a missing unit value is the price;
    a missing price: no mark, 0)."""

    equity: float
    start_of_day_equity: float
    high_water_mark: float
    strategy_equity_change_today: Mapping[str, float] = field(default_factory=dict)
    strategy_drawdown_pct: Mapping[str, float] = field(default_factory=dict)
    positions: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    prices: Mapping[str, float] = field(default_factory=dict)
    open_orders: Mapping[str, int] = field(default_factory=dict)
    unit_values: Mapping[str, float] = field(default_factory=dict)
    asset_classes: Mapping[str, AssetClass] = field(default_factory=dict)

    def unit_value(self, instrument_id: str) -> float:
        value = self.unit_values.get(instrument_id)
        return value if value is not None else self.prices.get(instrument_id, 0.0)


def _clear(value: float, limit: float) -> bool:
    """``value`` is below ``limit`` by more than any rounding could hide."""
    return value < limit - MARGIN * max(1.0, abs(limit), abs(value))


def clearly_approved(
    strategy_id: str,
    instrument_id: str,
    side: int,
    quantity: float,
    price: float,
    reducing: bool,
    book: ScreenBook,
    constraints: ScreenLimits,
    limits: ScreenLimits,
    unit_value: float | None = None,
    asset_class: AssetClass | None = None,
) -> bool:
    """True only when ``check_order`` would approve the order in full.

    The caller vouches for what floats cannot see: every trading state is ACTIVE and the
    quantity is a whole number of size increments. False means "ask the exact check", not
    "deny". ``unit_value`` and ``asset_class``: the order's, as in ``OrderIntent``.
    """
    unit = price if unit_value is None else unit_value
    own = book.positions.get(strategy_id, {}).get(instrument_id, 0.0)
    net = sum(b.get(instrument_id, 0.0) for b in book.positions.values())
    for scope, rules in ((strategy_id, constraints), ("portfolio", limits)):
        if rules.allowed_instruments is not None and instrument_id not in rules.allowed_instruments:
            return False
        if rules.max_open_orders is not None:
            count = (
                sum(book.open_orders.values())
                if scope == "portfolio"
                else book.open_orders.get(strategy_id, 0)
            )
            if count >= rules.max_open_orders:
                return False
        if not reducing and not _losses_clear(scope, strategy_id, rules, book):
            return False
        position = net if scope == "portfolio" else own
        if rules.max_order_quantity is not None and not _clear(quantity, rules.max_order_quantity):
            return False
        if rules.max_order_notional is not None and not _clear(
            quantity * abs(unit), rules.max_order_notional
        ):
            return False
        if rules.long_only and side < 0 and not _clear(quantity, position):
            return False
        if (
            rules.max_position is not None
            and not reducing
            and not _clear(side * position + quantity, rules.max_position)
        ):
            return False
    if reducing:
        return True
    if not _exposure_clear(instrument_id, side * unit * quantity, book, limits, None):
        return False
    by_class = limits.asset_classes.get(asset_class) if asset_class is not None else None
    if by_class is None:
        return True
    if by_class.max_position is not None and not _clear(
        side * net + quantity, by_class.max_position
    ):
        return False
    return _exposure_clear(instrument_id, side * unit * quantity, book, by_class, asset_class)


def _losses_clear(scope: str, strategy_id: str, rules: ScreenLimits, book: ScreenBook) -> bool:
    base = book.start_of_day_equity
    if scope == "portfolio":
        loss = base - book.equity
        hwm = book.high_water_mark
        drawdown = (hwm - book.equity) / hwm if hwm > 0 else 0.0
    else:
        loss = -book.strategy_equity_change_today.get(strategy_id, 0.0)
        drawdown = book.strategy_drawdown_pct.get(strategy_id, 0.0)
    if rules.max_daily_loss is not None and not _clear(loss, rules.max_daily_loss):
        return False
    if (
        rules.max_daily_loss_pct is not None
        and base > 0
        and not _clear(loss / base, rules.max_daily_loss_pct)
    ):
        return False
    return rules.max_drawdown_pct is None or _clear(drawdown, rules.max_drawdown_pct)


def _exposure_clear(
    instrument_id: str,
    moved: float,
    book: ScreenBook,
    limits: ScreenLimits,
    asset_class: AssetClass | None,
) -> bool:
    """Gross, net and leverage after the order moves ``moved`` of exposure, over every
    instrument or (``asset_class``) over that class's only."""
    if (
        limits.max_gross_exposure is None
        and limits.max_net_exposure is None
        and limits.max_leverage is None
    ):
        return True
    nets: dict[str, float] = {}
    for positions in book.positions.values():
        for instrument, held in positions.items():
            if (
                asset_class is None
                or instrument == instrument_id
                or book.asset_classes.get(instrument) is asset_class
            ):
                nets[instrument] = nets.get(instrument, 0.0) + held
    here = nets.pop(instrument_id, 0.0) * book.unit_value(instrument_id)
    others = [held * book.unit_value(i) for i, held in nets.items()]
    after = here + moved
    gross = sum(abs(v) for v in others) + abs(after)
    if limits.max_gross_exposure is not None and not _clear(gross, limits.max_gross_exposure):
        return False
    if limits.max_net_exposure is not None and not _clear(
        abs(sum(others) + after), limits.max_net_exposure
    ):
        return False
    if limits.max_leverage is not None:
        return book.equity > 0 and _clear(gross, limits.max_leverage * book.equity)
    return True


@dataclass(slots=True)
class EquityMarks:
    """Start-of-day equity and high-water marks, for the portfolio and each strategy.

    Mutable on purpose: the guard updates it at every equity sample. A strategy not seen yet
    is measured from the run's starting equity.
    """

    starting_equity: float
    start_of_day: float
    high_water_mark: float
    day: int = -1
    strategy_start_of_day: dict[str, float] = field(default_factory=dict)
    strategy_high_water_mark: dict[str, float] = field(default_factory=dict)

    @classmethod
    def at_start(cls, equity: float) -> "EquityMarks":
        return cls(starting_equity=equity, start_of_day=equity, high_water_mark=equity)

    def observe(self, day: int, equity: float, strategies: Mapping[str, float]) -> bool:
        """Roll the day and raise the high-water marks to this sample; True on a new day."""
        new_day = day != self.day
        if new_day:
            self.day = day
            self.start_of_day = equity
            self.strategy_start_of_day = dict(strategies)
        self.high_water_mark = max(self.high_water_mark, equity)
        for strategy_id, value in strategies.items():
            peak = self.strategy_high_water_mark.get(strategy_id, self.starting_equity)
            self.strategy_high_water_mark[strategy_id] = max(peak, value)
        return new_day

    def strategy_losses(
        self, strategies: Mapping[str, float]
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Each strategy's equity change today and drawdown from its own high-water mark."""
        change: dict[str, float] = {}
        drawdown: dict[str, float] = {}
        for strategy_id, value in strategies.items():
            start = self.strategy_start_of_day.get(strategy_id, self.starting_equity)
            change[strategy_id] = value - start
            peak = self.strategy_high_water_mark.get(strategy_id, self.starting_equity)
            drawdown[strategy_id] = max(0.0, (peak - value) / peak) if peak > 0 else 0.0
        return change, drawdown


def portfolio_loss_breach(
    equity: float, marks: EquityMarks, limits: ScreenLimits
) -> tuple[RiskRule, float] | None:
    """The portfolio loss rule ``equity`` breaches, with its value, or None.

    Drawdown first: its state holds past the day, a daily-loss state ends with it.
    """
    hwm = marks.high_water_mark
    drawdown = (hwm - equity) / hwm if hwm > 0 else 0.0
    if limits.max_drawdown_pct is not None and drawdown >= limits.max_drawdown_pct:
        return RiskRule.MAX_DRAWDOWN_PCT, drawdown
    start = marks.start_of_day
    loss = start - equity
    if limits.max_daily_loss is not None and loss >= limits.max_daily_loss:
        return RiskRule.MAX_DAILY_LOSS, loss
    if (
        limits.max_daily_loss_pct is not None
        and start > 0
        and loss / start >= limits.max_daily_loss_pct
    ):
        return RiskRule.MAX_DAILY_LOSS_PCT, loss / start
    return None
