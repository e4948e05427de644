"""What the catalog holds of an instrument's ticks or book deltas, for a run's checks."""

from typing import Protocol

from quantdesk.domain.market_data import CatalogFile


class TickCatalog(Protocol):
    """Spans and files of tick data, by the catalog's data type (``trade_tick``, ...)."""

    def tick_span(
        self, data_type: str, instrument_id: str, start_ns: int, end_ns: int
    ) -> tuple[int, int, int]:
        """How many rows the range holds, and the first and last of their timestamps
        (``0, 0, -1`` for none)."""
        ...

    def tick_files(
        self, data_type: str, instrument_id: str, start_ns: int, end_ns: int
    ) -> list[CatalogFile]:
        """The files holding rows in the range, with their checksums."""
        ...
