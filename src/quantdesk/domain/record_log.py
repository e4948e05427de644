"""Columnar, append-only sequences of flat records: a run's fills and closed positions.

A long backtest records tens of thousands of fills while the engine runs. As Python objects
(one record, a string per id, a float object per number) they cost ~600 bytes each, held
through the engine's peak and the analysis after it; column by column they cost ~150. So
records are appended into typed columns (``array``), text columns dictionary-encoded while
their values repeat (strategy, instrument, currency) and packed as UTF-8 once they stop
repeating (order and trade ids). Reading a row builds its record on demand.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import fields, is_dataclass
from typing import Any, Generic, TypeAlias, TypeVar, overload

R = TypeVar("R")

_PACK_AFTER = 1_024  # distinct values before a text column may switch to packed UTF-8


class _TextColumn:
    """Strings (or None): codes into distinct values while they repeat, then packed UTF-8."""

    __slots__ = ("_codes", "_data", "_ends", "_index", "_nulls", "_values")

    def __init__(self) -> None:
        self._codes: array[int] | None = array("i")
        self._values: list[str | None] = []
        self._index: dict[str | None, int] = {}
        self._data = bytearray()
        self._ends: array[int] = array("q")
        self._nulls: set[int] = set()

    def __len__(self) -> int:
        return len(self._codes) if self._codes is not None else len(self._ends)

    def append(self, value: str | None) -> None:
        if self._codes is None:
            self._pack(value)
            return
        code = self._index.get(value)
        if code is None:
            code = self._index[value] = len(self._values)
            self._values.append(value)
        self._codes.append(code)
        if len(self._values) > _PACK_AFTER and 2 * len(self._values) > len(self._codes):
            self._switch_to_packed()

    def _pack(self, value: str | None) -> None:
        if value is None:
            self._nulls.add(len(self._ends))
        else:
            self._data += value.encode()
        self._ends.append(len(self._data))

    def _switch_to_packed(self) -> None:
        codes, values = self._codes, self._values
        assert codes is not None
        self._codes, self._values, self._index = None, [], {}
        for code in codes:
            self._pack(values[code])

    def __getitem__(self, row: int) -> str | None:
        if self._codes is not None:
            return self._values[self._codes[row]]
        if row in self._nulls:
            return None
        start = self._ends[row - 1] if row > 0 else 0
        return self._data[start : self._ends[row]].decode()

    def __iter__(self) -> Iterator[str | None]:
        if self._codes is not None:
            values = self._values
            return (values[code] for code in self._codes)
        return (self[row] for row in range(len(self._ends)))

    def encoded(self) -> tuple[list[int], list[str | None]]:
        """(code of each row, distinct values in first-seen order)."""
        if self._codes is not None:
            return self._codes.tolist(), list(self._values)
        index: dict[str | None, int] = {}
        codes = [index.setdefault(value, len(index)) for value in self]
        return codes, list(index)


_Column: TypeAlias = "array[int] | array[float] | _TextColumn"


def _new_column(annotation: Any, name: str) -> _Column:
    if annotation in (int, "int"):
        return array("q")
    if annotation in (float, "float"):
        return array("d")
    if annotation in (str, str | None, "str", "str | None"):
        return _TextColumn()
    raise TypeError(f"field {name!r}: only int, float, str and str | None can be columns")


class RecordLog(Sequence[R], Generic[R]):
    """An append-only sequence of ``record_type`` rows (a flat dataclass), kept as columns."""

    def __init__(self, record_type: type[R], records: Iterable[R] = ()) -> None:
        if not is_dataclass(record_type):
            raise TypeError(f"{record_type!r} is not a dataclass")
        self._type = record_type
        self._names = tuple(f.name for f in fields(record_type))
        self._columns: dict[str, _Column] = {
            f.name: _new_column(f.type, f.name) for f in fields(record_type)
        }
        self.extend(records)

    @property
    def record_type(self) -> type[R]:
        return self._type

    def append(self, record: R) -> None:
        for name, column in self._columns.items():
            column.append(getattr(record, name))

    def append_values(self, *values: Any) -> None:
        """One row from its values in field order, without building the record first."""
        if len(values) != len(self._names):
            raise TypeError(f"{self._type.__name__} has {len(self._names)} fields")
        for column, value in zip(self._columns.values(), values, strict=True):
            column.append(value)

    def extend(self, records: Iterable[R]) -> None:
        for record in records:
            self.append(record)

    def __len__(self) -> int:
        return len(self._columns[self._names[0]]) if self._names else 0

    @overload
    def __getitem__(self, index: int) -> R: ...

    @overload
    def __getitem__(self, index: slice) -> RecordLog[R]: ...

    def __getitem__(self, index: int | slice) -> R | RecordLog[R]:
        if isinstance(index, slice):
            return self.select(range(len(self))[index])
        row = range(len(self))[index]  # negative indices, and IndexError past the end
        return self._type(*(self._columns[name][row] for name in self._names))

    def __iter__(self) -> Iterator[R]:
        make = self._type
        for values in zip(*(self._columns[name] for name in self._names), strict=True):
            yield make(*values)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or len(other) != len(self):
            return False
        if isinstance(other, RecordLog) and other.record_type is self._type:
            return all(self.column(name) == other.column(name) for name in self._names)
        return all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return f"RecordLog[{self._type.__name__}]({len(self)} rows)"

    # columns ------------------------------------------------------------------------------

    def column(self, name: str) -> list[Any]:
        """One field of every row, as a list."""
        return list(self._column(name))

    def numbers(self, name: str) -> array[int] | array[float]:
        """An int or float field as a typed array (a copy: the log may grow)."""
        column = self._column(name)
        if isinstance(column, _TextColumn):
            raise TypeError(f"{name!r} is a text field")
        return array(column.typecode, column)

    def encoded(self, name: str) -> tuple[list[int], list[str | None]]:
        """A text field dictionary-encoded: (code of each row, distinct values)."""
        column = self._column(name)
        if not isinstance(column, _TextColumn):
            raise TypeError(f"{name!r} is not a text field")
        return column.encoded()

    def select(self, rows: Iterable[int]) -> RecordLog[R]:
        """The given rows, in the given order, as a new log."""
        chosen = RecordLog(self._type)
        rows = list(rows)
        chosen._columns = {name: _take(column, rows) for name, column in self._columns.items()}
        return chosen

    def where(self, name: str, value: str | None) -> RecordLog[R]:
        """The rows whose text field ``name`` equals ``value``."""
        codes, values = self.encoded(name)
        if value not in values:
            return RecordLog(self._type)
        wanted = values.index(value)
        return self.select(row for row, code in enumerate(codes) if code == wanted)

    def _column(self, name: str) -> _Column:
        try:
            return self._columns[name]
        except KeyError:
            raise KeyError(f"{self._type.__name__} has no field {name!r}") from None


def _take(column: _Column, rows: list[int]) -> _Column:
    if isinstance(column, _TextColumn):
        taken = _TextColumn()
        for row in rows:
            taken.append(column[row])
        return taken
    return array(column.typecode, [column[row] for row in rows])


def as_log(record_type: type[R], records: Sequence[R]) -> RecordLog[R]:
    """``records`` as a log: itself if it is one, else its rows copied into columns."""
    if isinstance(records, RecordLog) and records.record_type is record_type:
        return records
    return RecordLog(record_type, records)
