"""Scratch catalogs: throw-away copies of part of the real catalog, with transformed bars.

A stress scenario (a -20% gap, a flash crash, volatility x3, a feed outage) is a backtest on
data that never happened. It must not touch the desk's catalog, so the scenario's bars are
written into a catalog of their own under ``settings.scratch_dir``: the instruments copied,
the bars of the requested bar types in the range read from the real catalog, transformed,
and written. The trial then runs on that root (``TrialSpec.catalog``) and the root is removed
afterwards. ``checksum`` lets the caller prove the real catalog was left as it was.
"""

from collections.abc import Callable, Sequence
from typing import Protocol

from quantdesk.services.columns import BarColumns

BarTransform = Callable[[BarColumns], BarColumns]
"""A pure function of one bar type's columns (in time order) to the scenario's columns.

It may change prices and volumes and drop rows; it must keep ``ts_ns`` increasing. The
catalog then rounds prices to the instrument's precision and restores OHLC consistency
(``high >= max(open, close)``, ``low <= min(open, close)``, prices > 0) before writing.
"""


class ScratchCatalogs(Protocol):
    def create(
        self,
        name: str,
        bar_types: Sequence[str],
        start_ns: int,
        end_ns: int,
        transform: BarTransform,
        *,
        with_signals: bool = False,
    ) -> str:
        """A new catalog (its root path) holding the instruments of ``bar_types`` and their
        bars with ``start_ns <= ts <= end_ns``, each bar type through ``transform``;
        ``with_signals``: the AI signals copied as they are. ``name`` labels the directory
        (made unique). Never writes the real catalog. Raises ``InvalidInputError`` when an
        instrument or the bars of a bar type are missing (nothing is left behind)."""
        ...

    def remove(self, root: str) -> None:
        """Delete a catalog this object created (anything else is refused)."""
        ...

    def checksum(self) -> str:
        """sha256 over the real catalog's files (relative paths and bytes), in path order."""
        ...
