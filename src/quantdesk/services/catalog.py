"""Questions about what the market-data catalog holds and where it came from."""

from quantdesk.domain.market_data import CatalogEntry, LineageRecord
from quantdesk.services.ports import MarketDataCatalog


class CatalogService:
    def __init__(self, catalog: MarketDataCatalog) -> None:
        self._catalog = catalog

    def entries(self, instrument_id: str | None = None) -> list[CatalogEntry]:
        entries = self._catalog.entries()
        if instrument_id is not None:
            entries = [e for e in entries if e.instrument_id == instrument_id]
        return sorted(entries, key=lambda e: (e.instrument_id, e.data_type, e.identifier))

    def lineage(self, instrument_id: str | None = None) -> list[LineageRecord]:
        return [
            record
            for record in self._catalog.lineage()
            if instrument_id is None or record.instrument_id == instrument_id
        ]
