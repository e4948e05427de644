"""Running backtests: check the request against the catalog, run it, analyse it, store it.

Nothing about a run is left to chance: the request is resolved to explicit data bounds
before it runs, the data it reads is fingerprinted by file checksum, and every figure in
the result is computed by quantdesk from the fills it recorded.
"""

import hashlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
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
    StrategySpec,
)
from quantdesk.domain.errors import InvalidInputError, NotFoundError
from quantdesk.domain.market_data import BarSpec, bar_type_id
from quantdesk.domain.time import ns_to_text
from quantdesk.services.columns import Float64Array, Int64Array
from quantdesk.services.execution import (
    check_not_all_refused,
    execution_summary,
    refusal_warnings,
)
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


@dataclass(frozen=True)
class BuiltinStrategy:
    """A strategy quantdesk ships, by name, for the CLI and quick experiments."""

    strategy_path: str
    config_path: str
    description: str


BUILTIN_STRATEGIES = {
    "ema_cross": BuiltinStrategy(
        strategy_path="quantdesk.strategies.ema_cross:EmaCross",
        config_path="quantdesk.strategies.ema_cross:EmaCrossConfig",
        description="trend following: EMA(fast) vs EMA(slow) cross; params fast, slow, "
        "trade_size, long_only",
    ),
    "sentiment_reaction": BuiltinStrategy(
        strategy_path="quantdesk.strategies.sentiment_reaction:SentimentReaction",
        config_path="quantdesk.strategies.sentiment_reaction:SentimentReactionConfig",
        description="news sentiment: long on score >= threshold, short (or flat) on <= "
        "-threshold, out after hold_bars; params threshold, hold_bars, trade_size, "
        "min_confidence, long_only; needs --signals SENTIMENT (or all)",
    ),
}


def builtin_strategy_specs(
    name: str, instruments: list[str], bar_spec: str, params: dict[str, Any]
) -> list[StrategySpec]:
    """One strategy instance per instrument, each with its own id (``Class-SYMBOL``)."""
    builtin = BUILTIN_STRATEGIES.get(name)
    if builtin is None:
        raise InvalidInputError(
            f"unknown strategy {name!r}", hint=f"built-in: {', '.join(sorted(BUILTIN_STRATEGIES))}"
        )
    spec = BarSpec.parse(bar_spec)
    return [
        StrategySpec(
            strategy_path=builtin.strategy_path,
            config_path=builtin.config_path,
            config={
                "instrument_id": instrument_id,
                "bar_type": bar_type_id(instrument_id, spec),
                "order_id_tag": _tag(instrument_id),
                **params,
            },
        )
        for instrument_id in instruments
    ]


def _check_single_sided(
    spec: BarSpec, instrument_id: str, spread: Decimal | None, tick: Decimal
) -> None:
    """BID or ASK bars alone make no market: every order would be rejected. A spread for
    other bars would do nothing, which is refused too."""
    if spec.price_type not in ("BID", "ASK"):
        if spread is not None:
            raise InvalidInputError(
                f"bar_spread {spread} is set for {instrument_id}'s venue but the run is on "
                f"{spec} bars, which need none",
                hint="a spread only applies to BID or ASK bars: leave it unset",
            )
        return
    other = "ASK" if spec.price_type == "BID" else "BID"
    if spread is None:
        raise InvalidInputError(
            f"{spec} bars of {instrument_id} are one side of the market only: the engine "
            "would reject every market order with 'no market'",
            hint=f"set the venue's bar_spread: the {other} side is then the bars "
            f"{'plus' if other == 'ASK' else 'minus'} the spread; or run on LAST or MID bars",
        )
    if spread % tick:
        raise InvalidInputError(
            f"bar_spread {spread} is not a multiple of {instrument_id}'s tick size {tick}",
            hint=f"e.g. {tick * max(1, round(spread / tick))}",
        )


def _plugin_uses(request: BacktestRequest) -> list[PluginUse]:
    return [
        PluginUse(f"strategy {index}: ", PluginClass(spec.strategy_path, spec.config_path))
        for index, spec in enumerate(request.strategies, start=1)
    ]


def _tag(instrument_id: str) -> str:
    return "".join(ch for ch in instrument_id.rsplit(".", 1)[0] if ch.isalnum()) or "X"


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
    ) -> None:
        self._plugins = PluginGate() if plugins is None else plugins  # default: built-ins only
        self._audit_head = audit_head  # the registry's chain head, recorded in each result
        self._catalog = catalog
        self._runner = runner
        self._store = store
        self._renderer = renderer
        self._signals = signals

    def prepare(self, request: BacktestRequest) -> tuple[BacktestRequest, list[DataUsed]]:
        """Check the request against the catalog; pin its range to the data it will read.

        The strategy classes are checked against the plug-in policy before anything else and
        plug-ins are imported in a child process before the runner imports any of them.
        """
        uses = _plugin_uses(request)
        self._plugins.check(uses)
        spec = BarSpec.parse(request.bar_spec)
        known = {i.instrument_id: i for i in self._catalog.instruments()}
        entries = {e.identifier: e for e in self._catalog.entries()}
        first, last = [], []
        for instrument_id in request.instruments:
            instrument = known.get(instrument_id)
            if instrument is None:
                raise NotFoundError(
                    f"unknown instrument {instrument_id!r} (catalog holds: "
                    f"{', '.join(sorted(known)) or 'none'})",
                    hint="define it with `quantdesk instruments add` and ingest its data",
                )
            venue = request.venue(instrument.venue)
            if instrument.currency != venue.base_currency:
                raise InvalidInputError(
                    f"{instrument_id} is quoted in {instrument.currency} but venue "
                    f"{venue.name} accounts in {venue.base_currency}",
                    hint="multi-currency portfolios are not supported yet: set the venue's "
                    "base_currency to the instruments' currency",
                )
            _check_single_sided(spec, instrument_id, venue.bar_spread, instrument.tick_size)
            bar_type = bar_type_id(instrument_id, spec)
            entry = entries.get(bar_type)
            if entry is None:
                raise InvalidInputError(
                    f"no {spec} bars for {instrument_id} in the catalog",
                    hint="ingest them: `quantdesk data ingest bars` (see `quantdesk data list`)",
                )
            start = request.start_ns if request.start_ns is not None else entry.first_ts
            end = request.end_ns if request.end_ns is not None else entry.last_ts
            if end < entry.first_ts or start > entry.last_ts:
                raise InvalidInputError(
                    f"no {spec} bars for {instrument_id} between {ns_to_text(start)} and "
                    f"{ns_to_text(end)}",
                    hint=f"the catalog holds {instrument_id} from {ns_to_text(entry.first_ts)} "
                    f"to {ns_to_text(entry.last_ts)}",
                )
            first.append(max(start, entry.first_ts))
            last.append(min(end, entry.last_ts))
        pinned = request.model_copy(
            update={
                "start_ns": request.start_ns if request.start_ns is not None else min(first),
                "end_ns": request.end_ns if request.end_ns is not None else max(last),
            }
        )
        self._plugins.vet(uses)
        self._runner.check(pinned)
        return pinned, self._data_used(pinned)

    def _data_used(self, request: BacktestRequest) -> list[DataUsed]:
        assert request.start_ns is not None and request.end_ns is not None
        spec = BarSpec.parse(request.bar_spec)
        sources: dict[str, set[str]] = {}
        for record in self._catalog.lineage():
            for file in record.files_added:
                sources.setdefault(file.sha256, set()).add(record.source_sha256)
        used = []
        for instrument_id in request.instruments:
            bar_type = bar_type_id(instrument_id, spec)
            files = self._catalog.bar_files(bar_type, request.start_ns, request.end_ns)
            count, first_ts, last_ts = self._catalog.bar_span(
                bar_type, request.start_ns, request.end_ns
            )
            used.append(
                DataUsed(
                    bar_type=bar_type,
                    first_ts=first_ts,
                    last_ts=last_ts,
                    bars=count,
                    file_sha256=[f.sha256 for f in files],
                    source_sha256=sorted({s for f in files for s in sources.get(f.sha256, ())}),
                )
            )
        return used

    def signal_data(self, request: BacktestRequest) -> list[SignalDataUsed]:
        """The signals a pinned request replays, per instrument (the journal flushed first).

        Asking for signals and finding none is an error naming what the buffer does hold:
        a run that silently replays nothing would pass for a strategy that ignored them.
        """
        if not request.replays_signals:
            return []
        assert request.start_ns is not None and request.end_ns is not None
        if self._signals is None:
            raise InvalidInputError("this desk has no signal buffer to replay signals from")
        self._signals.flush()
        used = [
            self._signals.replay_data(i, request.signal_types, request.start_ns, request.end_ns)
            for i in request.instruments
        ]
        if sum(u.signals for u in used) == 0:
            kinds = ", ".join(request.signal_types or ["AI"])
            raise InvalidInputError(
                f"no {kinds} signals for {', '.join(request.instruments)} between "
                f"{ns_to_text(request.start_ns)} and {ns_to_text(request.end_ns)}",
                hint=self._signals_held(request.instruments),
            )
        return used

    def _signals_held(self, instruments: list[str]) -> str:
        assert self._signals is not None
        by_type: Counter[str] = Counter()
        for (signal_type, _), count in self._signals.counts().items():
            by_type[signal_type] += count
        if not by_type:
            return "the signal buffer is empty: `quantdesk signals ingest FILE` (or produce some)"
        held = [f"{t} {n:,}" for t, n in sorted(by_type.items())]
        for instrument_id in instruments:
            span = self._signals.replay_data(instrument_id, None, 0, 2**63 - 1)
            if span.signals and span.first_ts is not None and span.last_ts is not None:
                held.append(
                    f"{instrument_id}: {span.signals:,} of any type from "
                    f"{ns_to_text(span.first_ts)} to {ns_to_text(span.last_ts)}"
                )
            else:
                held.append(f"{instrument_id}: none")
        return "the buffer holds " + "; ".join(held) + " (see `quantdesk signals list`)"

    def fingerprint(
        self,
        request: BacktestRequest,
        data: list[DataUsed],
        signals: list[SignalDataUsed] | None = None,
    ) -> str:
        """sha256 over everything that decides the outcome (engine options decide none).

        A run without signals hashes as it did before signals existed.
        """
        excluded = {"engine", "label"} | (set() if request.replays_signals else {"signals"})
        payload: dict[str, Any] = {
            "request": request.model_dump(mode="json", exclude=excluded),
            "data": [d.model_dump(mode="json") for d in data],
            "quantdesk": quantdesk.__version__,
            "nautilus_trader": self._runner.engine_version,
        }
        if request.replays_signals:
            payload["signals"] = [s.model_dump(mode="json") for s in signals or []]
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def run(
        self, request: BacktestRequest, progress: ProgressReporter | None = None
    ) -> BacktestResult:
        progress = progress or SilentProgress()
        started = time.time_ns()
        with progress.task("check request and data"):
            pinned, data = self.prepare(request)
            audit_head = None if self._audit_head is None else self._audit_head()
        assert pinned.start_ns is not None and pinned.end_ns is not None
        start_ns, end_ns = pinned.start_ns, pinned.end_ns
        signal_data = self.signal_data(pinned)
        fingerprint = self.fingerprint(pinned, data, signal_data)
        total_bars = sum(d.bars for d in data)
        span = max(end_ns - start_ns, 1)
        with progress.task("backtest (simulated time)", total=total_bars) as advance:
            done = [0]

            def on_progress(ts_ns: int) -> None:
                reached = min(total_bars, int(total_bars * (ts_ns - start_ns) / span))
                if reached > done[0]:
                    advance(reached - done[0])
                    done[0] = reached

            engine_run = self._runner.run(pinned, on_progress)
        execution = execution_summary(engine_run.fills)
        accepted = engine_run.orders_accepted
        check_not_all_refused(
            engine_run.engine_rejections,
            execution.orders_filled if accepted is None else max(accepted, execution.orders_filled),
        )
        with progress.task("analyse and store"):
            # Read only now, into the memory the engine has just handed back: read before the
            # run, they would sit on top of the engine's own peak.
            spec = BarSpec.parse(pinned.bar_spec)
            prices: dict[str, tuple[Int64Array, Float64Array]] = {
                instrument_id: self._catalog.read_closes(
                    bar_type_id(instrument_id, spec), start_ns, end_ns
                )
                for instrument_id in pinned.instruments
            }
            starting_equity = self._starting_equity(pinned)
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

    def _starting_equity(self, request: BacktestRequest) -> float:
        currencies = {request.venue(v).base_currency for v in request.venue_names}
        if len(currencies) > 1:
            raise InvalidInputError(
                f"venues account in several currencies ({', '.join(sorted(currencies))})",
                hint="multi-currency portfolios are not supported yet",
            )
        return request.starting_equity

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
