"""Running backtests: pin the request's strategies, check the plan against the catalog, run
it, analyse it, store it.

A run has an id and a record from submission on (``submit``): pending, running, then
completed, failed (with its error and code) or cancelled. ``execute`` does the work, in this
process or a worker's; ``run`` is both, for the CLI and the Python API.

Nothing about a run is left to chance: references are pinned to exact registry versions
(:mod:`backtest_plans`), the range to explicit data bounds (:mod:`backtest_data`), the data it
reads is fingerprinted by file checksum, and every figure in the result is computed by
quantdesk from the fills it recorded (:mod:`backtest_results`).
"""

import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import quantdesk
from quantdesk.domain.audit import AuditAnchor
from quantdesk.domain.backtest import BacktestRequest, BacktestResult, DataUsed, SignalDataUsed
from quantdesk.domain.backtest_plan import RunPlan
from quantdesk.domain.correlation import current_correlation_id
from quantdesk.domain.errors import InvalidInputError, JsonScalar, NotFoundError
from quantdesk.domain.runs import (
    CORRELATION_ID_MAX_LENGTH,
    RunFilter,
    RunRecord,
    RunState,
)
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.versions import StrategyVersion
from quantdesk.domain.text import shown, validate_actor
from quantdesk.services.backtest_data import data_used, pin_range, signal_data
from quantdesk.services.backtest_plans import Resolver, pin, plan_of
from quantdesk.services.backtest_results import RunInputs, analyse
from quantdesk.services.plugins import PluginGate, PluginUse
from quantdesk.services.ports import (
    BacktestRunner,
    MarketDataCatalog,
    ProgressReporter,
    ReportRenderer,
    RunArtifacts,
    RunIndex,
    RunStore,
    SignalStore,
    SilentProgress,
    TickCatalog,
)
from quantdesk.services.ports.plugins import PluginClass
from quantdesk.services.ports.runs import ARTIFACT_KINDS, ArtifactKind, DownloadFormat
from quantdesk.services.run_ledger import RunLedger

log = logging.getLogger(__name__)

CHECK_TASK = "check request and data"
SIMULATE_TASK = "backtest (simulated time)"
ANALYSE_TASK = "analyse"
REPORT_TASK = "store result and report"
PROGRESS_TASKS = (CHECK_TASK, SIMULATE_TASK, ANALYSE_TASK, REPORT_TASK)
"""The ``ProgressReporter`` tasks of a run, in order (a job weighs them into percent)."""

REPORT_FILE = "report.html"
ROWS_LIMIT_MAX = 10_000
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _plugin_uses(plan: RunPlan) -> list[PluginUse]:
    return [
        PluginUse(f"strategy {index}: ", PluginClass(s.spec.strategy_path, s.spec.config_path))
        for index, s in enumerate(plan.strategies, start=1)
    ]


class BacktestService:
    def __init__(
        self,
        catalog: MarketDataCatalog,
        runner: BacktestRunner,
        store: RunStore,
        renderer: ReportRenderer,
        *,
        signals: SignalStore | None = None,
        audit_head: Callable[[], AuditAnchor | None] | None = None,
        plugins: PluginGate | None = None,
        resolve: Resolver | None = None,
        index: Callable[[], RunIndex] | None = None,
        ticks: TickCatalog | None = None,
    ) -> None:
        self._ticks = ticks  # the catalog's tick and book data: runs on ticks need it
        self._ledger = RunLedger(index)  # index built on first use; None: runs are not indexed
        self._resolve = resolve  # the registry's reference resolution
        self._plugins = PluginGate() if plugins is None else plugins  # default: built-ins only
        self._audit_head = audit_head  # the registry's chain head, recorded in each result
        self._catalog = catalog
        self._runner = runner
        self._store = store
        self._renderer = renderer
        self._signals = signals

    def plan(self, request: BacktestRequest, pending: Sequence[StrategyDefinition] = ()) -> RunPlan:
        """Resolve and pin the request's references; the plan of what it runs (no catalog).

        ``pending``: versions about to be registered (with their version set), which their
        exact references resolve to: a caller that registers only after a successful run
        (the shorthands) leaves the registry untouched by a refused one."""
        resolve = self._resolve
        known = {f"{d.strategy_id}@{d.version}": d for d in pending}

        def resolved(ref: str) -> StrategyVersion:
            definition = known.get(ref)
            if definition is None:
                if resolve is None:
                    raise InvalidInputError(
                        "this desk has no strategy registry to resolve references from",
                        hint="open the desk with its database",
                    )
                return resolve(ref)
            return StrategyVersion(definition=definition, content_hash=definition.content_hash)

        return plan_of(pin(request, resolved))

    def prepare(self, request: BacktestRequest) -> tuple[RunPlan, list[DataUsed]]:
        """Pin the request and check its plan against the catalog (see ``prepare_plan``)."""
        return self.prepare_plan(self.plan(request))

    def prepare_plan(self, plan: RunPlan) -> tuple[RunPlan, list[DataUsed]]:
        """Check a plan against the catalog; pin its range to the data it will read.

        The strategy classes are checked against the plug-in policy before anything else and
        plug-ins are imported in a child process before the runner imports any of them.
        """
        uses = _plugin_uses(plan)
        self._plugins.check(uses)
        pinned = pin_range(plan, self._catalog, self._ticks)
        self._plugins.vet(uses)
        self._runner.check(pinned)
        return pinned, data_used(pinned, self._catalog, self._ticks)

    def signal_data(self, plan: RunPlan) -> list[SignalDataUsed]:
        """The signals a pinned plan replays, per instrument (see :func:`signal_data`)."""
        return signal_data(plan, self._signals)

    def fingerprint(
        self,
        plan: RunPlan,
        data: list[DataUsed],
        signals: list[SignalDataUsed] | None = None,
    ) -> str:
        """sha256 over everything that decides the outcome (engine options decide none).

        Strategies enter by what runs: each one's reference, content hash and engine spec
        (not the pinned definitions' bookkeeping: author, time, reason). A run without signals
        hashes as it did before signals existed.
        """
        request = plan.request
        excluded = {"engine", "label", "pinned"}
        excluded |= set() if request.replays_signals else {"signals"}
        payload: dict[str, Any] = {
            "request": request.model_dump(mode="json", exclude=excluded),
            "strategies": [
                {
                    "ref": s.ref,
                    "content_hash": s.content_hash,
                    "spec": s.spec.model_dump(mode="json", exclude={"config": {"registry"}}),
                }
                for s in plan.strategies
            ],
            "risk": plan.risk.model_dump(mode="json"),
            # defaults left out: a run on bars hashes as it did before tick feeds existed
            "data": [d.model_dump(mode="json", exclude_defaults=True) for d in data],
            "quantdesk": quantdesk.__version__,
            "nautilus_trader": self._runner.engine_version,
        }
        if request.replays_signals:
            payload["signals"] = [s.model_dump(mode="json") for s in signals or []]
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    # submitted runs: id and record first, then the work ---------------------------------------

    def submit(
        self,
        request: BacktestRequest,
        *,
        submitted_by: str,
        job_id: str | None = None,
        pending: Sequence[StrategyDefinition] = (),
    ) -> RunRecord:
        """Pin the request and check it against the catalog, then store it as a pending run.

        A refused request raises and stores nothing; from here on the run has an id and a
        state that every interface can follow (``execute`` does the work)."""
        return self._submit(request, submitted_by, job_id, pending)[0]

    def execute(self, run_id: str, progress: ProgressReporter | None = None) -> BacktestResult:
        """Run a submitted run: running, then completed, or failed with its error and code
        stored (the error is raised again). It runs the definitions pinned at submission (no
        registry lookup: a worker process needs none) on the catalog as it is now."""
        record, request = self._ledger.runnable(run_id)
        progress = progress or SilentProgress()
        try:
            with progress.task(CHECK_TASK):
                plan, data = self.prepare_plan(self.plan(request, request.pinned))
                inputs = self._inputs(run_id, plan, data, time.time_ns())
        except BaseException as error:
            self._ledger.fail(record, error)
            raise
        return self._execute(record, inputs, progress)

    def run(
        self,
        request: BacktestRequest,
        progress: ProgressReporter | None = None,
        pending: Sequence[StrategyDefinition] = (),
        *,
        submitted_by: str = "local",
    ) -> BacktestResult:
        """``submit`` then ``execute`` in this process (``pending``: see ``plan``)."""
        progress = progress or SilentProgress()
        with progress.task(CHECK_TASK):
            record, inputs = self._submit(request, submitted_by, None, pending)
        return self._execute(record, inputs, progress)

    def run_plan(self, plan: RunPlan, progress: ProgressReporter | None = None) -> BacktestResult:
        """Run a plan (checked against the catalog first) without indexing it: for internal
        callers (validation's smoke runs, tests) that hold a plan rather than a request."""
        progress = progress or SilentProgress()
        started = time.time_ns()
        with progress.task(CHECK_TASK):
            plan, data = self.prepare_plan(plan)
            inputs = self._inputs(None, plan, data, started)
        return self._work(inputs, progress)

    def evaluate(
        self, request: BacktestRequest, pending: Sequence[StrategyDefinition] = ()
    ) -> tuple[BacktestResult, RunArtifacts]:
        """Run a request as a trial (``services.trials``): planned, checked and analysed as
        ``run`` would, fingerprint included, but not stored, indexed or reported."""
        return self.evaluate_plan(self.plan(request, pending))

    def evaluate_plan(self, plan: RunPlan) -> tuple[BacktestResult, RunArtifacts]:
        """``evaluate`` for a caller that holds a plan (``run_plan``'s twin that stores
        nothing)."""
        plan, data = self.prepare_plan(plan)
        inputs = self._inputs(None, plan, data, time.time_ns())
        engine_run = self._runner.run(plan)
        return analyse(inputs, engine_run, self._catalog, self._runner.engine_version)

    def mark_stopped(
        self, run_id: str, state: RunState, reason: str, *, code: str | None = None
    ) -> RunRecord:
        """A run stopped from outside (worker killed, cancelled, past its time limit): failed
        or cancelled with ``reason`` (``code``: default ``run_failed``/``run_cancelled``). A
        run that already finished keeps how it finished."""
        return self._ledger.stop(run_id, state, reason, code)

    def records(
        self, filter: RunFilter, *, limit: int = 50, offset: int = 0
    ) -> tuple[list[RunRecord], int]:
        """A page of run records, newest first, and how many match in all (runs stored
        before runs had records are indexed on the first look)."""
        self._ledger.adopt(self._store.results)
        return self._ledger.page(filter, limit=limit, offset=offset)

    def record(self, run_id: str) -> RunRecord:
        """``NotFoundError`` (code ``run_not_found``) for an unknown id."""
        self._ledger.adopt(self._store.results)
        return self._ledger.get(run_id)

    # the work ------------------------------------------------------------------------------

    def _submit(
        self,
        request: BacktestRequest,
        submitted_by: str,
        job_id: str | None,
        pending: Sequence[StrategyDefinition],
    ) -> tuple[RunRecord, RunInputs]:
        index = self._ledger.index
        submitted_by = validate_actor(submitted_by)
        if job_id is not None and not _JOB_ID.fullmatch(job_id):
            raise InvalidInputError(
                f"job id {shown(job_id)} is not 1-64 letters, digits, '-' or '_'",
                code="invalid_job_id",
            )
        plan, data = self.prepare_plan(self.plan(request, pending))
        inputs = self._inputs(None, plan, data, time.time_ns())
        record = RunRecord(
            run_id=inputs.run_id,
            state=RunState.PENDING,
            label=plan.request.label,
            strategies=tuple(s.ref for s in plan.strategies),
            submitted_by=submitted_by,
            correlation_id=(current_correlation_id() or "")[:CORRELATION_ID_MAX_LENGTH] or None,
            job_id=job_id,
            created_ns=inputs.started_ns,
            fingerprint=inputs.fingerprint,
        )
        index.add(record, plan.request)
        return record, inputs

    def _execute(
        self, record: RunRecord, inputs: RunInputs, progress: ProgressReporter
    ) -> BacktestResult:
        running = self._ledger.start(record)
        try:
            result = self._work(inputs, progress)
        except BaseException as error:
            self._ledger.fail(running, error)
            raise
        self._ledger.complete(running, result)
        return result

    def _inputs(
        self, run_id: str | None, plan: RunPlan, data: list[DataUsed], started_ns: int
    ) -> RunInputs:
        signals = self.signal_data(plan)
        fingerprint = self.fingerprint(plan, data, signals)
        if run_id is None:
            at = datetime.fromtimestamp(started_ns / 1e9, tz=UTC)
            run_id = f"{at:%Y%m%dT%H%M%SZ}-{fingerprint[:8]}-{uuid.uuid4().hex[:4]}"
        audit_head = None if self._audit_head is None else self._audit_head()
        return RunInputs(run_id, plan, data, signals, fingerprint, audit_head, started_ns)

    def _work(self, inputs: RunInputs, progress: ProgressReporter) -> BacktestResult:
        """The engine run, its analysis, then the stored result and report (one task each)."""
        plan = inputs.plan
        assert plan.request.start_ns is not None and plan.request.end_ns is not None
        start_ns, end_ns = plan.request.start_ns, plan.request.end_ns
        total_bars = sum(d.bars for d in inputs.data if d.is_streamed)
        span = max(end_ns - start_ns, 1)
        with progress.task(SIMULATE_TASK, total=total_bars) as advance:
            done = [0]

            def on_progress(ts_ns: int) -> None:
                reached = min(total_bars, int(total_bars * (ts_ns - start_ns) / span))
                if reached > done[0]:
                    advance(reached - done[0])
                    done[0] = reached

            engine_run = self._runner.run(plan, on_progress)
        with progress.task(ANALYSE_TASK):
            result, artifacts = analyse(
                inputs, engine_run, self._catalog, self._runner.engine_version
            )
        with progress.task(REPORT_TASK):
            self._store.save(
                result, artifacts, lambda out: self._renderer.write(result, artifacts, out)
            )
        return result

    # the run store, for the interfaces ----------------------------------------------------------

    def results(self) -> list[BacktestResult]:
        return self._store.results()

    def result(self, run_id: str) -> BacktestResult:
        return self._store.result(run_id)

    def artifacts(self, run_id: str) -> RunArtifacts:
        return self._store.artifacts(run_id)

    def report_path(self, run_id: str) -> str:
        return str(self.report_file(run_id))

    def report_file(self, run_id: str) -> Path:
        """The run's self-contained HTML report (``NotFoundError`` when it has none)."""
        path = self._store.directory(run_id) / REPORT_FILE
        if not path.is_file():
            raise NotFoundError(
                f"run {shown(run_id)} has no report",
                code="report_not_found",
                data={"run_id": run_id},
            )
        return path

    def artifact_rows(
        self, run_id: str, kind: ArtifactKind, *, offset: int = 0, limit: int = 100
    ) -> tuple[list[dict[str, JsonScalar]], int]:
        """A page of a stored run's fills, positions or equity curve, and the table's size."""
        _check_kind(kind)
        if not 1 <= limit <= ROWS_LIMIT_MAX or offset < 0:
            raise InvalidInputError(
                f"limit is 1..{ROWS_LIMIT_MAX} and offset at least 0",
                data={"limit": limit, "offset": offset},
            )
        return self._store.rows(run_id, kind, offset=offset, limit=limit)

    def artifact_download(
        self, run_id: str, kind: ArtifactKind, format: DownloadFormat
    ) -> Iterator[bytes]:
        """A stored run's table, whole, as Parquet or CSV bytes (streamed)."""
        _check_kind(kind)
        if format not in ("csv", "parquet"):
            raise InvalidInputError(
                f"format {shown(format)} is not csv or parquet", data={"format": str(format)}
            )
        return self._store.download(run_id, kind, format)

    def same_fills(self, run_a: str, run_b: str) -> bool:
        """Bit-for-bit equality of two runs' fills (what equal fingerprints promise)."""
        return self._store.artifacts(run_a).fills == self._store.artifacts(run_b).fills


def _check_kind(kind: str) -> None:
    if kind not in ARTIFACT_KINDS:
        raise InvalidInputError(
            f"a run's tables are {', '.join(ARTIFACT_KINDS)}, not {shown(kind)}",
            data={"kind": kind},
        )
