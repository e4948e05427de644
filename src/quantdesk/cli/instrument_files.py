"""Instrument definitions from YAML (or JSON), with errors that name the line of the file."""

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.services.ports.documents import Document, DocumentReader, Location

_HINT = "see `quantdesk instruments add --help` and examples/instruments/"


def load_instrument_specs(path: Path, reader: DocumentReader) -> list[InstrumentSpec]:
    """A file holding one mapping or a list of mappings (or ``instruments: [...]``)."""
    document = reader.read_file(path)
    if document.data is None:
        raise InvalidInputError(f"{path}: empty file", hint="see examples/instruments/")
    items = _instrument_items(document)
    if not items:
        raise InvalidInputError(f"{path}: defines no instruments", hint="see examples/instruments/")
    specs = []
    for where, item in items:
        try:
            specs.append(InstrumentSpec.model_validate(item))
        except ValidationError as error:
            first = error.errors()[0]
            line = document.line_of((*where, *first["loc"][:1]))
            raise InvalidInputError(
                f"{path} line {line}: {_first_error(error)}", hint=_HINT
            ) from error
    return specs


def _instrument_items(document: Document) -> list[tuple[Location, Any]]:
    """Each instrument with its location in the file (for its line)."""
    data = document.data
    if isinstance(data, dict):
        listed = data.get("instruments")
        if isinstance(listed, list):
            return [(("instruments", index), item) for index, item in enumerate(listed)]
        return [((), data)]
    if isinstance(data, list):
        return [((index,), item) for index, item in enumerate(data)]
    raise InvalidInputError(
        f"{document.name} line {document.line_of(())}: expected a mapping or a list of mappings"
    )


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
