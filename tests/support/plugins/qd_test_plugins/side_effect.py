"""A plug-in with an import-time side effect: it writes its process id and the QUANTDESK_
variables it can see to the file named by QD_TEST_PLUGIN_SENTINEL, so a test can tell which
process imported it and what that process was told."""

import os
from pathlib import Path

from nautilus_trader.config import StrategyConfig
from nautilus_trader.trading.strategy import Strategy

_sentinel = os.environ.get("QD_TEST_PLUGIN_SENTINEL")
if _sentinel:
    with Path(_sentinel).open("a") as _file:
        _seen = sorted(name for name in os.environ if name.startswith("QUANTDESK_"))
        _file.write(" ".join([str(os.getpid()), *_seen]) + "\n")


class QuietConfig(StrategyConfig, frozen=True):
    pass


class Quiet(Strategy):
    pass
