"""Running backtests: pin the request's strategies, check the plan against the catalog, run
it, analyse it, store it.

Nothing about a run is left to chance: references are pinned to exact registry versions
(:mod:`backtest_plans`), the range to explicit data bounds (:mod:`backtest_data`), the data it
reads is fingerprinted by file checksum, and every figure in the result is computed by
quantdesk from the fills it recorded.
"""

import hashlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import quantdesk
from quantdesk.domain.audit import AuditAnchor
from quantdesk.domain.backtest import (
    BacktestRequest,
    BacktestResult,
    DataUsed,
    EngineFacts,
    RunStatus,
    SignalDataUsed,
)
from quantdesk.domain.backtest_plan import RunPlan
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.market_data import BarSpec, bar_type_id
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.versions import StrategyVersion
from quantdesk.services.backtest_data import data_used, pin_range, signal_data
from quantdesk.services.backtest_plans import Resolver, pin, plan_of
from quantdesk.services.columns import Float64Array, Int64Array
from quantdesk.services.execution import (
    check_not_all_refused,
    execution_summary,
    refusal_warnings,
)
from quantdesk.services.execution_quality import run_execution_quality
from quantdesk.services.performance import attribute, build_equity_curve, compute_metrics
from quantdesk.services.plugins import PluginGate, PluginUse
from quantdesk.services.ports import (
    BacktestRunner,
    MarketDataCatalog,
    ProgressReporter,
    ReportRenderer,
    RunArtifacts,
    RunStore,
    SignalStore,
    SilentProgress,
)
from quantdesk.services.ports.plugins import PluginClass
from quantdesk.services.signal_provenance import build_provenance


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
    ) -> None:
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
        if resolve is None:
            raise InvalidInputError(
                "this desk has no strategy registry to resolve references from",
                hint="open the desk with its database",
            )
        known = {f"{d.strategy_id}@{d.version}": d for d in pending}

        def resolved(ref: str) -> StrategyVersion:
            definition = known.get(ref)
            if definition is None:
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
        pinned = pin_range(plan, self._catalog)
        self._plugins.vet(uses)
        self._runner.check(pinned)
        return pinned, data_used(pinned, self._catalog)

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
            "data": [d.model_dump(mode="json") for d in data],
            "quantdesk": quantdesk.__version__,
            "nautilus_trader": self._runner.engine_version,
        }
        if request.replays_signals:
            payload["signals"] = [s.model_dump(mode="json") for s in signals or []]
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def run(
        self,
        request: BacktestRequest,
        progress: ProgressReporter | None = None,
        pending: Sequence[StrategyDefinition] = (),
    ) -> BacktestResult:
        """Pin the request's references (``pending``: see ``plan``), then run it."""
        return self.run_plan(self.plan(request, pending), progress)

    def run_plan(self, plan: RunPlan, progress: ProgressReporter | None = None) -> BacktestResult:
        """Run a plan (checked against the catalog first): for internal callers (validation's
        smoke runs, tests) that hold a plan rather than a request of references."""
        progress = progress or SilentProgress()
        started = time.time_ns()
        with progress.task("check request and data"):
            plan, data = self.prepare_plan(plan)
            audit_head = None if self._audit_head is None else self._audit_head()
        pinned = plan.request
        assert pinned.start_ns is not None and pinned.end_ns is not None
        start_ns, end_ns = pinned.start_ns, pinned.end_ns
        signal_data = self.signal_data(plan)
        fingerprint = self.fingerprint(plan, data, signal_data)
        total_bars = sum(d.bars for d in data)
        span = max(end_ns - start_ns, 1)
        with progress.task("backtest (simulated time)", total=total_bars) as advance:
            done = [0]

            def on_progress(ts_ns: int) -> None:
                reached = min(total_bars, int(total_bars * (ts_ns - start_ns) / span))
                if reached > done[0]:
                    advance(reached - done[0])
                    done[0] = reached

            engine_run = self._runner.run(plan, on_progress)
        execution = execution_summary(engine_run.fills)
        accepted = engine_run.orders_accepted
        check_not_all_refused(
            engine_run.engine_rejections,
            execution.orders_filled if accepted is None else max(accepted, execution.orders_filled),
        )
        with progress.task("analyse and store"):
            # Read only now, into the memory the engine has just handed back: read before the
            # run, they would sit on top of the engine's own peak.
            prices: dict[str, tuple[Int64Array, Float64Array]] = {
                instrument_id: self._catalog.read_closes(bar_type, start_ns, end_ns)
                for instrument_id, bar_type in plan.marks.items()
            }
            starting_equity = self._starting_equity(plan)
            curve = build_equity_curve(engine_run.fills, prices, starting_equity)
            metrics = compute_metrics(
                curve, engine_run.positions, engine_run.fills, starting_equity
            )
            attribution = attribute(
                engine_run.fills,
                engine_run.positions,
                prices,
                starting_equity,
                run=(curve, metrics),
            )
            execution_quality = run_execution_quality(
                ((s.nautilus_id, s.spec) for s in plan.strategies),
                engine_run.fills,
                lambda instrument_id, bar_spec: self._catalog.read_bars(
                    bar_type_id(instrument_id, BarSpec.parse(bar_spec)), start_ns, end_ns
                ),
            )
            facts = EngineFacts(
                nautilus_trader_version=self._runner.engine_version,
                quantdesk_version=quantdesk.__version__,
                bars=total_bars,
                events_processed=engine_run.events_processed,
                orders=engine_run.orders,
                fills=len(engine_run.fills),
                positions_closed=len(engine_run.positions),
                wall_seconds=engine_run.wall_seconds,
                bars_per_second=total_bars / engine_run.wall_seconds
                if engine_run.wall_seconds > 0
                else 0.0,
            )
            result = BacktestResult(
                run_id=f"{datetime.now(tz=UTC):%Y%m%dT%H%M%SZ}-{fingerprint[:8]}-{uuid.uuid4().hex[:4]}",
                status=RunStatus.COMPLETED,
                fingerprint=fingerprint,
                request=pinned,
                strategies=plan.records,
                instruments=list(plan.instruments),
                started_at_ns=started,
                finished_at_ns=time.time_ns(),
                data=data,
                metrics=metrics,
                attribution=attribution,
                facts=facts,
                risk_events=engine_run.risk_events,
                risk_counts=dict(sorted(Counter(e.rule for e in engine_run.risk_events).items())),
                signal_data=signal_data,
                provenance=build_provenance(
                    engine_run.signal_uses,
                    engine_run.signal_decisions,
                    engine_run.fills,
                    signal_data,
                )
                if pinned.replays_signals
                else None,
                engine_rejections=engine_run.engine_rejections,
                execution=execution,
                execution_quality=execution_quality,
                audit_head=audit_head,
                warnings=refusal_warnings(engine_run.engine_rejections, execution.orders_filled),
            )
            artifacts = RunArtifacts(
                fills=engine_run.fills, positions=engine_run.positions, curve=curve, prices=prices
            )
            self._store.save(
                result, artifacts, lambda out: self._renderer.write(result, artifacts, out)
            )
        return result

    def _starting_equity(self, plan: RunPlan) -> float:
        currencies = {plan.venue(v).base_currency for v in plan.venue_names}
        if len(currencies) > 1:
            raise InvalidInputError(
                f"venues account in several currencies ({', '.join(sorted(currencies))})",
                hint="multi-currency portfolios are not supported yet",
            )
        return plan.starting_equity

    # the run store, for the interfaces ----------------------------------------------------------

    def results(self) -> list[BacktestResult]:
        return self._store.results()

    def result(self, run_id: str) -> BacktestResult:
        return self._store.result(run_id)

    def artifacts(self, run_id: str) -> RunArtifacts:
        return self._store.artifacts(run_id)

    def report_path(self, run_id: str) -> str:
        return str(self._store.directory(run_id) / "report.html")

    def same_fills(self, run_a: str, run_b: str) -> bool:
        """Bit-for-bit equality of two runs' fills (what equal fingerprints promise)."""
        return self._store.artifacts(run_a).fills == self._store.artifacts(run_b).fills
