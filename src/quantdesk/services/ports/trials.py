"""Where trials run: in this process, in warm worker processes, or as tasks on a Ray cluster."""

from collections.abc import Callable, Sequence
from typing import Protocol

from quantdesk.domain.trials import TrialOutcome, TrialSpec


class TrialPool(Protocol):
    """Runs trials; the same specs give the same outcomes on every pool (bit for bit, but
    ``wall_seconds``). A trial that fails comes back as an outcome with its error, never as
    an exception; a pool that cannot run at all (workers died, cluster gone) raises."""

    @property
    def workers(self) -> int: ...

    def run(
        self,
        specs: Sequence[TrialSpec],
        on_outcome: Callable[[TrialOutcome], None] | None = None,
    ) -> list[TrialOutcome]:
        """Outcomes in the order of ``specs``; ``on_outcome`` as each one finishes."""
        ...

    def close(self) -> None:
        """Stop the workers (idempotent)."""
        ...
