"""Defining the instruments that market data and strategies refer to."""

from quantdesk.domain.errors import ConflictError, NotFoundError
from quantdesk.domain.instruments import InstrumentSpec, require_instrument_id
from quantdesk.services.ports import MarketDataCatalog


class InstrumentService:
    def __init__(self, catalog: MarketDataCatalog) -> None:
        self._catalog = catalog

    def add(self, spec: InstrumentSpec, *, replace: bool = False) -> bool:
        """Store ``spec``; returns False when an identical definition is already there.

        A different definition of an instrument replaces the old one only with ``replace``
        and only while no data refers to it: stored prices were validated against its ticks.
        """
        current = self._catalog.instrument(spec.instrument_id)
        if current == spec:
            return False
        if current is not None:
            if not replace:
                raise ConflictError(
                    f"{spec.instrument_id} is already defined differently",
                    hint="redefine it with replace (only allowed while it has no data)",
                    code="instrument_exists",
                    data={"instrument_id": spec.instrument_id},
                )
            if self._catalog.has_data_for(spec.instrument_id):
                raise ConflictError(
                    f"{spec.instrument_id} has data in the catalog that was validated against "
                    "its current definition; it cannot be redefined",
                    hint="define a new instrument id instead",
                )
        self._catalog.put_instrument(spec)
        return True

    def get(self, instrument_id: str) -> InstrumentSpec:
        require_instrument_id(instrument_id)  # an id no instrument can have is not looked up
        spec = self._catalog.instrument(instrument_id)
        if spec is None:
            raise NotFoundError(
                f"unknown instrument {instrument_id!r}",
                hint="list them with: quantdesk instruments list",
            )
        return spec

    def list(self) -> list[InstrumentSpec]:
        return sorted(self._catalog.instruments(), key=lambda s: s.instrument_id)
