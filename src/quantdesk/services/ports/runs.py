"""Where runs live: artifacts and reports (files), the queryable index of run records."""

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, TextIO

from quantdesk.domain.backtest import (
    BacktestRequest,
    BacktestResult,
    FillRecord,
    PositionRecord,
)
from quantdesk.domain.errors import JsonScalar
from quantdesk.domain.runs import RunFilter, RunRecord, RunState
from quantdesk.services.columns import Float64Array, Int64Array
from quantdesk.services.performance import EquityCurve


@dataclass(frozen=True, eq=False)
class RunArtifacts:
    """The bulky part of a result, stored beside ``result.json`` as Parquet."""

    fills: Sequence[FillRecord]
    positions: Sequence[PositionRecord]
    curve: EquityCurve
    prices: dict[str, tuple[Int64Array, Float64Array]]  # instrument -> bar closes


ArtifactKind = Literal["fills", "positions", "equity"]
"""The tables of a stored run that interfaces page through or download."""
ARTIFACT_KINDS: tuple[ArtifactKind, ...] = ("fills", "positions", "equity")
DownloadFormat = Literal["csv", "parquet"]

ReportWriter = Callable[[TextIO], None]
"""Writes a run's report into an open text file."""


class RunStore(Protocol):
    """Where backtest runs live: one folder per run under ``QUANTDESK_HOME/runs``."""

    def save(
        self, result: BacktestResult, artifacts: RunArtifacts, write_report: ReportWriter
    ) -> Path:
        """Store the run whole or not at all; ``write_report`` writes ``report.html``."""
        ...

    def results(self) -> list[BacktestResult]:
        """Every stored run, newest first."""
        ...

    def result(self, run_id: str) -> BacktestResult: ...

    def artifacts(self, run_id: str) -> RunArtifacts: ...

    def directory(self, run_id: str) -> Path: ...

    def rows(
        self, run_id: str, kind: ArtifactKind, *, offset: int, limit: int
    ) -> tuple[list[dict[str, JsonScalar]], int]:
        """A page of one table (fills, positions or equity with its drawdown), in stored
        order, as plain values; and how many rows the table holds."""
        ...

    def download(self, run_id: str, kind: ArtifactKind, format: DownloadFormat) -> Iterator[bytes]:
        """One table, whole, as a stream of bytes (Parquet or CSV with a header)."""
        ...


class ReportRenderer(Protocol):
    def write(self, result: BacktestResult, artifacts: RunArtifacts, out: TextIO) -> None:
        """A self-contained HTML page, written part by part (it embeds ~5 MB of plotly.js:
        held as one string, it would add to the run's peak memory)."""
        ...


class RunIndex(Protocol):
    """Every run's record and request from submission on, queryable (the database).

    State changes are compare-and-set: a worker finishing a run and the job service stopping
    it may race, and the first to write wins.
    """

    def add(self, record: RunRecord, request: BacktestRequest) -> None:
        """Store a new run; ``ConflictError`` (code ``run_exists``) when its id is taken."""
        ...

    def update(self, record: RunRecord, *, expect: Collection[RunState]) -> bool:
        """Replace the stored record if its state is one of ``expect``; False otherwise.

        ``NotFoundError`` (code ``run_not_found``) when there is no such run."""
        ...

    def get(self, run_id: str) -> RunRecord | None: ...

    def request(self, run_id: str) -> BacktestRequest | None:
        """The request as submitted (references pinned)."""
        ...

    def query(self, filter: RunFilter, *, limit: int, offset: int) -> tuple[list[RunRecord], int]:
        """A page of the matching records, newest first (``created_ns``, then run id), and
        how many match in all."""
        ...
