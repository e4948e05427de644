"""In-memory fakes of quantdesk's own ports, for tests where the adapter is not the point.

Each fake keeps its port's contract (tests/contract/ runs the same suite over the fake and the
real adapters), so a test on fakes proves the service, not the fake. Wire them with
``bootstrap(home=..., overrides=Overrides(runner=FakeBacktestRunner(), ...))``.
"""

import builtins
import dataclasses
import io
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pydantic import JsonValue

from quantdesk.domain.backtest import BacktestRequest, BacktestResult, FillRecord, PositionRecord
from quantdesk.domain.backtest_plan import RunPlan
from quantdesk.domain.errors import (
    ConflictError,
    InvalidInputError,
    JsonScalar,
    NotFoundError,
    QuantdeskError,
)
from quantdesk.domain.jobs import (
    FINISHED,
    UNFINISHED,
    JobFilter,
    JobKind,
    JobOutcome,
    JobProgress,
    JobRecord,
    JobState,
    JobStats,
)
from quantdesk.domain.market_data import Rejection
from quantdesk.domain.migration import (
    ChunkCheckpoint,
    ChunkRecord,
    MigrationCheckpoint,
    MigrationRun,
)
from quantdesk.domain.risk import KillSwitch, KillSwitchScope
from quantdesk.domain.runs import RunFilter, RunRecord, RunState
from quantdesk.domain.validation.policy import StoredPolicy, ValidationPolicy
from quantdesk.domain.validation.report import PromotionOverride, ValidationRecord
from quantdesk.services.performance import drawdown_of
from quantdesk.services.ports import EngineRun, ReportWriter, RunArtifacts
from quantdesk.services.ports.jobs import JobSink, JobWork
from quantdesk.services.ports.runs import ArtifactKind, DownloadFormat

# the runner ----------------------------------------------------------------------------------


class FakeBacktestRunner:
    """A deterministic ``EngineRun`` without an engine: per strategy, one long round trip on
    its first instrument, bought at ``entry`` at the range's start and sold at ``exit`` at
    its end (``quantity`` each way, ``commission`` per fill).

    ``fail``: raised by ``run`` after the first progress report (a run that fails in the
    engine); ``hold``: an event ``run`` waits for before it finishes (a run to cancel).
    """

    engine_version = "fake-engine 0"

    def __init__(
        self,
        *,
        entry: float = 100.0,
        exit: float = 101.0,
        quantity: float = 1.0,
        commission: float = 0.0,
        fail: Exception | None = None,
        hold: threading.Event | None = None,
    ) -> None:
        self.entry, self.exit, self.quantity, self.commission = entry, exit, quantity, commission
        self.fail = fail
        self.hold = hold
        self.runs: list[RunPlan] = []

    def check(self, plan: RunPlan) -> None:
        return None

    def run(self, plan: RunPlan, on_progress: Callable[[int], None] | None = None) -> EngineRun:
        start, end = plan.request.start_ns, plan.request.end_ns
        assert start is not None and end is not None, "the service pins the range first"
        self.runs.append(plan)
        report = on_progress or (lambda ts_ns: None)
        report(start)
        if self.fail is not None:
            raise self.fail
        if self.hold is not None:
            self.hold.wait()
        report((start + end) // 2)
        fills: list[FillRecord] = []
        positions: list[PositionRecord] = []
        for index, strategy in enumerate(plan.strategies):
            instrument = strategy.instruments[0]
            position = f"P-{index}"
            for side, ts, price in ((1, start, self.entry), (-1, end, self.exit)):
                fills.append(
                    FillRecord(
                        ts_ns=ts,
                        strategy_id=strategy.nautilus_id,
                        instrument_id=instrument,
                        order_id=f"O-{index}-{len(fills)}",
                        trade_id=f"T-{index}-{len(fills)}",
                        position_id=position,
                        side=side,
                        quantity=self.quantity,
                        price=price,
                        commission=self.commission,
                        commission_currency=plan.venue_of(instrument).base_currency,
                    )
                )
            positions.append(
                PositionRecord(
                    strategy_id=strategy.nautilus_id,
                    instrument_id=instrument,
                    position_id=position,
                    side=1,
                    peak_quantity=self.quantity,
                    opened_ns=start,
                    closed_ns=end,
                    avg_px_open=self.entry,
                    avg_px_close=self.exit,
                    realized_pnl=(self.exit - self.entry) * self.quantity - 2 * self.commission,
                    commissions=2 * self.commission,
                )
            )
        report(end)
        return EngineRun(
            fills=fills,
            positions=positions,
            events_processed=len(fills),
            orders=len(fills),
            wall_seconds=0.001,
            balances={},
            risk_events=[],
            orders_accepted=len(fills),
        )


# runs ----------------------------------------------------------------------------------------


class InMemoryRunStore:
    """Results and artifacts in a dict; ``root``: where ``directory`` says a run lives (and
    its report is written, when given)."""

    def __init__(self, root: Path | None = None) -> None:
        self._root = root or Path("/nonexistent/runs")
        self._write_files = root is not None
        self._runs: dict[str, tuple[BacktestResult, RunArtifacts, str]] = {}

    def save(
        self, result: BacktestResult, artifacts: RunArtifacts, write_report: ReportWriter
    ) -> Path:
        if result.run_id in self._runs:
            raise ConflictError(f"run {result.run_id} is already stored")
        report = io.StringIO()
        write_report(report)
        self._runs[result.run_id] = (result, artifacts, report.getvalue())
        folder = self._root / result.run_id
        if self._write_files:
            folder.mkdir(parents=True)
            (folder / "report.html").write_text(report.getvalue(), encoding="utf-8")
        return folder

    def results(self) -> list[BacktestResult]:
        stored = [result for result, _, _ in self._runs.values()]
        return sorted(stored, key=lambda r: (r.started_at_ns, r.run_id), reverse=True)

    def result(self, run_id: str) -> BacktestResult:
        return self._runs[self._resolve(run_id)][0]

    def artifacts(self, run_id: str) -> RunArtifacts:
        return self._runs[self._resolve(run_id)][1]

    def report(self, run_id: str) -> str:
        return self._runs[self._resolve(run_id)][2]

    def directory(self, run_id: str) -> Path:
        return self._root / self._resolve(run_id)

    def rows(
        self, run_id: str, kind: ArtifactKind, *, offset: int, limit: int
    ) -> tuple[list[dict[str, JsonScalar]], int]:
        every = self._table(run_id, kind)
        return every[offset : offset + limit], len(every)

    def download(self, run_id: str, kind: ArtifactKind, format: DownloadFormat) -> Iterator[bytes]:
        table = pa.Table.from_pylist(self._table(run_id, kind))
        out = io.BytesIO()
        if format == "parquet":
            pq.write_table(table, out)
        else:
            pacsv.write_csv(table, out)
        yield out.getvalue()

    def _table(self, run_id: str, kind: ArtifactKind) -> list[dict[str, JsonScalar]]:
        artifacts = self.artifacts(run_id)
        if kind == "fills":
            return [dataclasses.asdict(f) for f in artifacts.fills]
        if kind == "positions":
            return [dataclasses.asdict(p) for p in artifacts.positions]
        curve = artifacts.curve
        return [
            {"ts_ns": int(ts), "equity": float(e), "drawdown": float(d), "in_market": bool(m)}
            for ts, e, d, m in zip(
                curve.ts_ns, curve.equity, drawdown_of(curve.equity), curve.in_market, strict=True
            )
        ]

    def _resolve(self, run_id: str) -> str:
        matches = [r for r in self._runs if r.startswith(run_id)] if run_id else []
        if run_id in self._runs:
            return run_id
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise NotFoundError(
                f"no stored run {run_id!r}", code="run_not_found", data={"run_id": run_id}
            )
        raise InvalidInputError(f"run id prefix {run_id!r} matches {len(matches)} runs")


class InMemoryRunIndex:
    """The ``RunIndex`` port in a dict (thread-safe: the API's thread pool shares it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, RunRecord] = {}
        self._requests: dict[str, str] = {}  # JSON, as the database keeps it

    def add(self, record: RunRecord, request: BacktestRequest) -> None:
        with self._lock:
            if record.run_id in self._records:
                raise ConflictError(
                    f"run {record.run_id} is already indexed",
                    code="run_exists",
                    data={"run_id": record.run_id},
                )
            self._records[record.run_id] = record
            self._requests[record.run_id] = request.model_dump_json()

    def update(self, record: RunRecord, *, expect: Collection[RunState]) -> bool:
        with self._lock:
            current = self._records.get(record.run_id)
            if current is None:
                raise NotFoundError(
                    f"no run {record.run_id!r}",
                    code="run_not_found",
                    data={"run_id": record.run_id},
                )
            if current.state not in expect:
                return False
            self._records[record.run_id] = record.model_copy(
                update={"strategies": current.strategies}
            )
            return True

    def get(self, run_id: str) -> RunRecord | None:
        with self._lock:
            return self._records.get(run_id)

    def request(self, run_id: str) -> BacktestRequest | None:
        with self._lock:
            body = self._requests.get(run_id)
        return None if body is None else BacktestRequest.model_validate_json(body)

    def query(self, filter: RunFilter, *, limit: int, offset: int) -> tuple[list[RunRecord], int]:
        with self._lock:
            matching = [r for r in self._records.values() if filter.matches(r)]
        matching.sort(key=lambda r: (r.created_ns, r.run_id), reverse=True)
        start = max(offset, 0)
        return matching[start : start + max(limit, 0)], len(matching)


# risk ----------------------------------------------------------------------------------------


class InMemoryKillSwitchStore:
    """The ``KillSwitchStore`` port in a dict, with its log of throws and releases."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thrown: dict[tuple[KillSwitchScope, str], KillSwitch] = {}
        self.log: list[tuple[str, KillSwitchScope, str, str, int]] = []

    def thrown(self) -> list[KillSwitch]:
        with self._lock:
            switches = list(self._thrown.values())
        return sorted(switches, key=lambda s: (s.thrown_at_ns, s.scope.value))

    def throw(self, switch: KillSwitch) -> None:
        with self._lock:
            self._thrown[(switch.scope, switch.target)] = switch
            self.log.append(
                ("kill", switch.scope, switch.target, switch.actor, switch.thrown_at_ns)
            )

    def release(self, scope: KillSwitchScope, target: str, actor: str, at_ns: int) -> bool:
        with self._lock:
            if self._thrown.pop((scope, target), None) is None:
                return False
            self.log.append(("release", scope, target, actor, at_ns))
            return True


# jobs ----------------------------------------------------------------------------------------


class InMemoryJobStore:
    """The ``JobStore`` port in a dict (the job store contract's third backend)."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[JobRecord, str | None, str | None]] = {}
        self._lock = threading.Lock()

    def add(self, job: JobRecord, *, owner: str) -> None:
        with self._lock:
            if job.job_id in self._rows:
                raise QuantdeskError(f"job {job.job_id} exists")
            self._rows[job.job_id] = (job, owner, None)

    def get(self, job_id: str) -> JobRecord | None:
        row = self._rows.get(job_id)
        return None if row is None else row[0]

    def update(self, job: JobRecord, *, owner: str | None = None) -> None:
        with self._lock:
            _, held, cancel = self._rows[job.job_id]
            self._rows[job.job_id] = (
                job,
                held if owner is None else owner,
                None if job.finished else cancel,
            )

    def list(
        self, filter: JobFilter, *, limit: int, offset: int
    ) -> tuple[builtins.list[JobRecord], int]:
        jobs = sorted(
            (job for job, _, _ in self._rows.values() if filter.matches(job)),
            key=lambda job: (job.created_ns, job.job_id),
            reverse=True,
        )
        return jobs[offset : offset + limit], len(jobs)

    def unfinished(self) -> builtins.list[tuple[JobRecord, str]]:
        rows = [
            (job, owner or "") for job, owner, _ in self._rows.values() if job.state in UNFINISHED
        ]
        return sorted(rows, key=lambda row: (row[0].created_ns, row[0].job_id))

    def owner(self, job_id: str) -> str | None:
        row = self._rows.get(job_id)
        return None if row is None else row[1]

    def claim(self, job_id: str, expected: str | None, owner: str) -> bool:
        with self._lock:
            job, held, cancel = self._rows[job_id]
            if (held or "") != (expected or ""):
                return False
            self._rows[job_id] = (job, owner, cancel)
            return True

    def request_cancel(self, job_id: str, reason: str) -> None:
        with self._lock:
            job, owner, _ = self._rows[job_id]
            if job.state in UNFINISHED:
                self._rows[job_id] = (job, owner, reason)

    def cancel_requests(self, owner: str) -> builtins.list[tuple[str, str]]:
        return [
            (job.job_id, cancel)
            for job, held, cancel in self._rows.values()
            if held == owner and cancel is not None and job.state in UNFINISHED
        ]

    def stats(self) -> JobStats:
        counts: dict[tuple[JobKind, JobState], int] = {}
        finished: dict[JobKind, int] = {}
        seconds: dict[JobKind, float] = {}
        for job, _, _ in self._rows.values():
            counts[(job.kind, job.state)] = counts.get((job.kind, job.state), 0) + 1
            if job.state in FINISHED and job.seconds is not None:
                finished[job.kind] = finished.get(job.kind, 0) + 1
                seconds[job.kind] = seconds.get(job.kind, 0.0) + job.seconds
        return JobStats(counts=counts, finished=finished, finished_seconds=seconds)


class _SinkChannel:
    def __init__(self, sink: JobSink, job_id: str) -> None:
        self._sink, self._job_id = sink, job_id

    def progress(self, progress: JobProgress) -> None:
        self._sink.job_progress(self._job_id, progress)

    def event(
        self, type: str, payload: Mapping[str, JsonValue], *, subject: str | None = None
    ) -> None:
        self._sink.job_event(self._job_id, type, payload, subject)


class InlineJobRunner:
    """Runs a job when it is submitted, in the submitting thread, with ``platform`` (what the
    worker entry would bootstrap). Submitted before ``start``: run at ``start``."""

    def __init__(self, platform: object) -> None:
        self._platform = platform
        self._sink: JobSink | None = None
        self._waiting: builtins.list[JobWork] = []

    def start(self, sink: JobSink) -> None:
        self._sink = sink
        waiting, self._waiting = self._waiting, []
        for work in waiting:
            self._run(work)

    def stop(self) -> None:
        self._sink = None

    def submit(self, work: JobWork) -> None:
        if self._sink is None:
            self._waiting.append(work)
        else:
            self._run(work)

    def cancel(self, job_id: str, reason: str) -> bool:
        return False  # nothing is ever in flight here

    def healthy(self) -> tuple[bool, str]:
        return (self._sink is not None), "inline runner"

    def _run(self, work: JobWork) -> None:
        sink = self._sink
        assert sink is not None
        sink.job_started(work.job_id)
        outcome: JobOutcome
        try:
            result = work.handler(self._platform, work.payload, _SinkChannel(sink, work.job_id))
            outcome = JobOutcome(JobState.COMPLETED, result=dict(result))
        except QuantdeskError as error:
            outcome = JobOutcome(JobState.FAILED, error=str(error), error_code=error.code)
        sink.job_finished(work.job_id, outcome)


# validation ----------------------------------------------------------------------------------


class InMemoryPolicyStore:
    """The ``PolicyStore`` port in a dict; ``events`` lists the audit actions it would write."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._versions: dict[str, list[StoredPolicy]] = {}
        self.events: list[tuple[str, str]] = []

    def add(
        self, policy: ValidationPolicy, *, sha256: str, actor: str, at_ns: int
    ) -> tuple[StoredPolicy, bool]:
        with self._lock:
            versions = self._versions.setdefault(policy.name, [])
            if versions and versions[-1].sha256 == sha256:
                return versions[-1], False
            stored = StoredPolicy(
                policy=policy,
                version=len(versions) + 1,
                sha256=sha256,
                author=actor,
                created_at_ns=at_ns,
            )
            versions.append(stored)
            self.events.append(
                ("validation_policy_set", f"validation-policy:{policy.name}@{stored.version}")
            )
            return stored, True

    def current(self, name: str) -> StoredPolicy | None:
        with self._lock:
            versions = self._versions.get(name)
            return versions[-1] if versions else None

    def get(self, name: str, version: int) -> StoredPolicy | None:
        with self._lock:
            versions = self._versions.get(name, [])
            return versions[version - 1] if 1 <= version <= len(versions) else None

    def history(self, name: str) -> list[StoredPolicy]:
        with self._lock:
            return list(self._versions.get(name, []))

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._versions)


class InMemoryValidationRecordStore:
    """The ``ValidationRecordStore`` port in lists; ``events`` as ``InMemoryPolicyStore``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, ValidationRecord] = {}
        self._overrides: list[PromotionOverride] = []
        self.events: list[tuple[str, str]] = []

    def add(self, record: ValidationRecord, *, at_ns: int) -> None:
        with self._lock:
            if record.validation_id in self._records:
                raise ConflictError(
                    f"validation {record.validation_id!r} is stored already",
                    code="validation_exists",
                    data={"validation_id": record.validation_id},
                )
            self._records[record.validation_id] = record
            self.events.append(("validation_recorded", record.ref))

    def get(self, validation_id: str) -> ValidationRecord | None:
        with self._lock:
            return self._records.get(validation_id)

    def _newest(self, keep: Callable[[ValidationRecord], bool]) -> builtins.list[ValidationRecord]:
        with self._lock:
            found = [r for r in self._records.values() if keep(r)]
        return sorted(found, key=lambda r: (r.finished_at_ns, r.validation_id), reverse=True)

    def latest(self, strategy_id: str, version: int, content_hash: str) -> ValidationRecord | None:
        key = (strategy_id, version, content_hash)
        found = self._newest(lambda r: (r.strategy_id, r.version, r.content_hash) == key)
        return found[0] if found else None

    def passing(self, strategy_id: str, version: int, content_hash: str) -> ValidationRecord | None:
        key = (strategy_id, version, content_hash)
        found = self._newest(
            lambda r: r.passed and (r.strategy_id, r.version, r.content_hash) == key
        )
        return found[0] if found else None

    def list(
        self, strategy_id: str | None = None, version: int | None = None, *, limit: int = 100
    ) -> builtins.list[ValidationRecord]:
        found = self._newest(
            lambda r: (
                (strategy_id is None or r.strategy_id == strategy_id)
                and (version is None or r.version == version)
            )
        )
        return found[: max(limit, 0)]

    def add_override(self, override: PromotionOverride) -> None:
        with self._lock:
            self._overrides.append(override)
            self.events.append(
                ("promotion_overridden", f"{override.strategy_id}@{override.version}")
            )

    def override(
        self, strategy_id: str, version: int, content_hash: str
    ) -> PromotionOverride | None:
        key = (strategy_id, version, content_hash)
        with self._lock:
            found = [
                o for o in self._overrides if (o.strategy_id, o.version, o.content_hash) == key
            ]
        return max(reversed(found), key=lambda o: o.at_ns) if found else None


# migrations ----------------------------------------------------------------------------------


class InMemoryMigrationStore:
    """The ``MigrationStore`` port in dicts: records are kept and returned as copies (a caller
    changing a run's list changes nothing here); ``save_chunk`` applies all or nothing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, MigrationRun] = {}
        self._checkpoints: dict[str, MigrationCheckpoint] = {}
        self._chunks: dict[str, dict[int, ChunkRecord]] = {}
        self._rejections: dict[str, list[Rejection]] = {}
        self._days: dict[str, dict[int, int]] = {}

    def checkpoint(self, mapping_name: str) -> MigrationCheckpoint | None:
        with self._lock:
            return self._checkpoints.get(mapping_name)

    def days(self, mapping_name: str) -> dict[int, int]:
        with self._lock:
            return dict(self._days.get(mapping_name, {}))

    def save_run(self, run: MigrationRun) -> None:
        with self._lock:
            self._runs[run.migration_id] = run.model_copy(deep=True)

    def save_chunk(self, run: MigrationRun, chunk: ChunkCheckpoint) -> None:
        record, point = chunk.record, chunk.checkpoint
        with self._lock:
            days = self._days.setdefault(point.mapping_name, {})
            for day, rows in chunk.days_added.items():
                days[day] = days.get(day, 0) + rows
            self._runs[run.migration_id] = run.model_copy(deep=True)
            self._chunks.setdefault(record.migration_id, {})[record.chunk] = record
            self._rejections.setdefault(record.migration_id, []).extend(chunk.rejections)
            self._checkpoints[point.mapping_name] = point

    def set_days(self, mapping_name: str, days: dict[int, int]) -> None:
        with self._lock:
            self._days.setdefault(mapping_name, {}).update(days)

    def run(self, migration_id: str) -> MigrationRun | None:
        with self._lock:
            held = self._runs.get(migration_id)
            return None if held is None else held.model_copy(deep=True)

    def runs(self, mapping_name: str | None = None, *, limit: int = 100) -> list[MigrationRun]:
        with self._lock:
            found = [
                r.model_copy(deep=True)
                for r in self._runs.values()
                if mapping_name is None or r.mapping_name == mapping_name
            ]
        found.sort(key=lambda r: (-r.started_ns, r.migration_id))
        return found[: max(limit, 0)]

    def chunks(self, migration_id: str) -> list[ChunkRecord]:
        with self._lock:
            held = self._chunks.get(migration_id, {})
            return [held[n] for n in sorted(held)]

    def rejections(
        self, migration_id: str, *, offset: int = 0, limit: int = 10_000
    ) -> list[Rejection]:
        start = max(offset, 0)
        with self._lock:
            return self._rejections.get(migration_id, [])[start : start + max(limit, 0)]

    def forget(self, mapping_name: str) -> None:
        with self._lock:
            self._checkpoints.pop(mapping_name, None)
            self._days.pop(mapping_name, None)
