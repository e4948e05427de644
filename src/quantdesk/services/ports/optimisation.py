"""What optimisation needs from outside: a study backend (Optuna), a record of its studies,
and a renderer for its report.

The backend asks points of a search space and is told their values; the service decides
batches and order (that is what makes a study reproducible whatever the pool), the backend
only samples and stores. A persistent study lives in quantdesk's database (Optuna's tables
kept apart from ours) and survives the process: opening it again continues it.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, TextIO

from quantdesk.domain.optimisation.space import Params, SearchSpace
from quantdesk.domain.optimisation.study import Sampler, StudyRecord, StudyReport, TrialState

AttrValue = str | int | float | bool | None

ZOMBIE_ATTR = "zombie"
"""User attribute (True) of a trial a killed process left RUNNING, failed on resume: it does
not count towards the trials a study was asked for."""


@dataclass(frozen=True)
class AskedTrial:
    """A point the sampler proposed; ``number`` counts from 0 within the study."""

    number: int
    params: Params


@dataclass(frozen=True)
class StoredTrial:
    """A trial as the backend keeps it (``attrs``: the user attributes the service set)."""

    number: int
    params: Params
    value: float | None
    state: TrialState
    attrs: Mapping[str, AttrValue] = field(default_factory=dict)


class OptimisationStudy(Protocol):
    """One study: ask points, tell outcomes, list what it holds."""

    @property
    def name(self) -> str: ...

    def ask(self, batch_seed: int) -> AskedTrial:
        """The next point; ``batch_seed`` seeds the sampler for it (the service derives it
        from the study's seed and the batch, so a resume samples as a fresh run would)."""
        ...

    def enqueue(self, params: Params) -> None:
        """Make ``params`` the next point asked (the screen's leaders), before sampling."""
        ...

    def tell(
        self,
        number: int,
        value: float | None,
        state: TrialState,
        attrs: Mapping[str, AttrValue],
    ) -> None:
        """Finish trial ``number`` (COMPLETE needs a value; FAIL/INFEASIBLE none)."""
        ...

    def trials(self) -> list[StoredTrial]:
        """Every trial, by number (RUNNING ones too)."""
        ...

    def fail_running(self, reason: str) -> list[int]:
        """Mark trials left RUNNING by a dead process failed (``reason``, ``ZOMBIE_ATTR``);
        their numbers."""
        ...

    def importance(self, seed: int) -> dict[str, float]:
        """Parameter importance over the complete trials (seeded); {} when too few."""
        ...


class StudyBackend(Protocol):
    """Creates studies: in memory (a search inside one call) or stored (``optimize``)."""

    def memory(self, space: SearchSpace, sampler: Sampler, seed: int) -> OptimisationStudy:
        """A throwaway study in this process."""
        ...

    def stored(
        self, name: str, space: SearchSpace, sampler: Sampler, seed: int
    ) -> OptimisationStudy:
        """The stored study ``name``: created if new, loaded (to be continued) if not."""
        ...

    def delete(self, name: str) -> None:
        """Drop the stored study (if any)."""
        ...


class StudyRecordStore(Protocol):
    """quantdesk's own table of studies (Optuna holds their trials)."""

    def get(self, name: str) -> StudyRecord | None: ...

    def save(self, record: StudyRecord) -> None:
        """Insert or replace the record of ``record.name``."""
        ...

    def list(self) -> list[StudyRecord]:
        """Every study, newest first."""
        ...


class OptimisationReportRenderer(Protocol):
    """Writes a study's HTML report (ranked table, importance, parallel/contour plots)."""

    def write(self, report: StudyReport, out: TextIO) -> None: ...
