"""Tapes: the calls a ``BacktestNode`` makes on its engine while it streams, kept to replay.

The node streams the catalog in chunks: for each, ``add_data`` (validate off, sorted), then
``run(streaming=True)`` and ``clear_data``; finally ``end``. quantdesk's node subclasses put
their transforms between the node and the engine (open ticks, the other side of single-sided
bars, the run's bounds), so what the engine receives is a function of the catalog files and
the plan's data settings alone. :class:`TapingEngine` stands in for the engine during one
real run, passing every call on and recording it; :meth:`Tape.play` makes the same calls, with
the same (immutable) data objects, on another engine. Anything else the node asks of the
engine is passed on too, but marks the tape as not replayable (a call the tape would miss).
"""

from dataclasses import dataclass, field
from typing import Any

_READS = frozenset({"cache", "logger", "kernel"})
"""Attributes the transforms read from the engine without changing it."""


@dataclass
class Tape:
    """The engine calls of one streamed run, in order."""

    calls: list[tuple[str, Any]] = field(default_factory=list)
    items: int = 0  # data objects held
    replayable: bool = True

    def play(self, engine: Any, run_config_id: str) -> None:
        """Make the recorded calls on ``engine`` (built as the taped run's engine was), for
        the run config ``run_config_id`` (the taped run's differs: it hashes the strategies)."""
        if not self.replayable:
            raise RuntimeError("this tape recorded calls it cannot replay")
        for name, arguments in self.calls:
            if name == "add_data":
                data, client_id, validate, sort = arguments
                engine.add_data(data=data, client_id=client_id, validate=validate, sort=sort)
            elif name == "run":
                engine.run(**{**arguments, "run_config_id": run_config_id})
            elif name == "clear_data":
                engine.clear_data()
            elif name == "end":
                engine.end()
            else:  # pragma: no cover - only the names recorded below
                raise RuntimeError(f"unknown tape call {name}")


class TapingEngine:
    """Stands in for the engine inside the node's streaming: passes on and records.

    A stream of more than ``items_max`` data objects is not recorded past that point (the
    tape is dropped, not replayable): holding it whole would undo what streaming in chunks
    is for, a run's memory bounded by its chunk."""

    def __init__(self, engine: Any, items_max: int) -> None:
        self._engine = engine
        self._items_max = items_max
        self.tape = Tape()

    def add_data(
        self,
        data: list[Any],
        client_id: Any = None,
        validate: bool = True,
        sort: bool = True,
    ) -> None:
        self._engine.add_data(data=data, client_id=client_id, validate=validate, sort=sort)
        tape = self.tape
        if not tape.replayable:
            return
        tape.items += len(data)
        if tape.items > self._items_max:
            tape.calls.clear()
            tape.replayable = False
            return
        tape.calls.append(("add_data", (list(data), client_id, validate, sort)))

    def run(self, **arguments: Any) -> None:
        self.tape.calls.append(("run", dict(arguments)))
        self._engine.run(**arguments)

    def clear_data(self) -> None:
        self.tape.calls.append(("clear_data", None))
        self._engine.clear_data()

    def end(self) -> None:
        self.tape.calls.append(("end", None))
        self._engine.end()

    def __getattr__(self, name: str) -> Any:
        if name not in _READS:
            self.tape.replayable = False
        return getattr(self._engine, name)
