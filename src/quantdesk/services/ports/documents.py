"""Reading a YAML or JSON document a user hands us (a file now, a request body later).

Every such document is hostile until read within bounds: the reader refuses what is too big,
too deep, too repetitive (alias expansion) or ambiguous (duplicate keys) before any of it is
built, and keeps where each value was written so a validation error can name its line.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

Location = tuple[str | int, ...]
"""A path into the data, as pydantic reports it: mapping keys and sequence indexes."""


@dataclass(frozen=True)
class Document:
    """The data of one document, and the line each of its values was written on.

    ``lines`` maps the location of every mapping entry (to its key's line) and sequence item
    (to its first line); ``()`` is the document itself.
    """

    name: str
    data: Any
    lines: Mapping[Location, int] = field(repr=False)

    def line_of(self, location: Sequence[str | int]) -> int:
        """The line of the deepest value on ``location`` that the document has."""
        path = tuple(location)
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)


class DocumentReader(Protocol):
    """Bounded YAML/JSON reading; every refusal is an ``InvalidInputError`` naming the line.

    A ``DocumentLimitError`` (with its ``reason``) when a limit is crossed, a
    ``SourceReadError`` when a file cannot be read at all.
    """

    def read_file(self, path: Path) -> Document:
        """The document in ``path``; messages name the file."""
        ...

    def read_text(self, text: str | bytes, name: str) -> Document:
        """The document in ``text`` (e.g. a request body); messages name it ``name``."""
        ...
