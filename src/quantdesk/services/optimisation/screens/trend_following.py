"""Trend following's orders from the closes, for a whole grid (``strategies/trend_following``).

Without the ATR stop the rule is a function of the bar alone: once both averages are warm
(the slow one has ``slow_period`` inputs; fast < slow), the strategy wants +1 when
fast > slow and -1 otherwise (0 with ``long_only``), and sends orders exactly where that
wish changes (the first warm bar included): so the orders are the changes of one vector.
A tie (fast == slow) is "otherwise", as in the strategy. Supported: ``ema`` and ``sma``
(their values are replicated bit for bit, see ``series``); ``wma``/``hull`` (numpy's
weighted average, nested) and the ATR stop (a path-dependent ratchet) are refused.
"""

import numpy as np

from quantdesk.domain.strategies.families import TrendFollowingParameters
from quantdesk.services.optimisation.screens.model import not_screenable
from quantdesk.services.optimisation.screens.scoring import NO_STEPS, Steps
from quantdesk.services.optimisation.screens.series import Averages

MA_TYPES = ("ema", "sma")


def check(parameters: TrendFollowingParameters) -> None:
    """Raise ``not_screenable`` naming the first parameter the replica cannot follow."""
    if parameters.ma_type not in MA_TYPES:
        raise not_screenable(
            "ma_type", parameters.ma_type, f"only {', '.join(MA_TYPES)} averages are replicated"
        )
    if parameters.atr_stop_multiple is not None:
        raise not_screenable(
            "atr_stop_multiple",
            parameters.atr_stop_multiple,
            "the ATR trailing stop is path-dependent; screen with no stop (null)",
        )


def steps(parameters: TrendFollowingParameters, averages: Averages, tradable: int) -> Steps:
    """Every decision before bar ``tradable`` (``trade_until_ns``)."""
    start = max(parameters.fast_period, parameters.slow_period) - 1
    if start >= tradable:
        return NO_STEPS
    fast = averages.of(parameters.ma_type, parameters.fast_period)[start:tradable]
    slow = averages.of(parameters.ma_type, parameters.slow_period)[start:tradable]
    otherwise = 0 if parameters.long_only else -1
    wanted = np.where(fast > slow, 1, otherwise)
    before = np.concatenate(([0], wanted[:-1]))
    changes = np.flatnonzero(wanted != before)
    return changes + start, wanted[changes].astype(np.int64)
