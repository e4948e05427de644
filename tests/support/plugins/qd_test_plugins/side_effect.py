"""A plug-in with an import-time side effect: it writes its process id to the file named by
QD_TEST_PLUGIN_SENTINEL, so a test can tell which process imported it."""

import os
from pathlib import Path

from nautilus_trader.config import StrategyConfig
from nautilus_trader.trading.strategy import Strategy

_sentinel = os.environ.get("QD_TEST_PLUGIN_SENTINEL")
if _sentinel:
    with Path(_sentinel).open("a") as _file:
        _file.write(f"{os.getpid()}\n")


class QuietConfig(StrategyConfig, frozen=True):
    pass


class Quiet(Strategy):
    pass
