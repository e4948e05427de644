"""Classes that are not what a plug-in must be: a plain class and a plain config."""

from nautilus_trader.config import StrategyConfig


class Plain:
    pass


class PlainConfig(StrategyConfig, frozen=True):
    pass


class NotAConfig:
    pass
