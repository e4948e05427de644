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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import quantdesk
from quantdesk.domain.backtest import (
    BacktestRequest,
    BacktestResult,
    DataUsed,
    EngineFacts,
    RunStatus,
    StrategySpec,
)
from quantdesk.domain.errors import InvalidInputError, NotFoundError
from quantdesk.domain.market_data import BarSpec, bar_type_id
from quantdesk.domain.time import ns_to_text
from quantdesk.services.columns import Float64Array, Int64Array
from quantdesk.services.performance import attribute, build_equity_curve, compute_metrics
from quantdesk.services.ports import (
    BacktestRunner,
    MarketDataCatalog,
    ProgressReporter,
    ReportRenderer,
    RunArtifacts,
    RunStore,
    SilentProgress,
)


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


def _tag(instrument_id: str) -> str:
    return "".join(ch for ch in instrument_id.rsplit(".", 1)[0] if ch.isalnum()) or "X"


class BacktestService:
    def __init__(
        self,
        catalog: MarketDataCatalog,
        runner: BacktestRunner,
        store: RunStore,
        renderer: ReportRenderer,
    ) -> None:
        self._catalog = catalog
        self._runner = runner
        self._store = store
        self._renderer = renderer

    def prepare(self, request: BacktestRequest) -> tuple[BacktestRequest, list[DataUsed]]:
        """Check the request against the catalog; pin its range to the data it will read."""
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

    def fingerprint(self, request: BacktestRequest, data: list[DataUsed]) -> str:
        """sha256 over everything that decides the outcome (engine options decide none)."""
        payload = {
            "request": request.model_dump(mode="json", exclude={"engine", "label"}),
            "data": [d.model_dump(mode="json") for d in data],
            "quantdesk": quantdesk.__version__,
            "nautilus_trader": self._runner.engine_version,
        }
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def run(
        self, request: BacktestRequest, progress: ProgressReporter | None = None
    ) -> BacktestResult:
        progress = progress or SilentProgress()
        started = time.time_ns()
        with progress.task("check request and data"):
            pinned, data = self.prepare(request)
        assert pinned.start_ns is not None and pinned.end_ns is not None
        start_ns, end_ns = pinned.start_ns, pinned.end_ns
        fingerprint = self.fingerprint(pinned, data)
        total_bars = sum(d.bars for d in data)
        span = max(end_ns - start_ns, 1)
        # The closes to mark positions with are read before the engine runs, while memory is
        # low: read afterwards, their decoding would add to the engine's peak.
        spec = BarSpec.parse(pinned.bar_spec)
        prices: dict[str, tuple[Int64Array, Float64Array]] = {
            instrument_id: self._catalog.read_closes(
                bar_type_id(instrument_id, spec), start_ns, end_ns
            )
            for instrument_id in pinned.instruments
        }
        with progress.task("backtest (simulated time)", total=total_bars) as advance:
            done = [0]

            def on_progress(ts_ns: int) -> None:
                reached = min(total_bars, int(total_bars * (ts_ns - start_ns) / span))
                if reached > done[0]:
                    advance(reached - done[0])
                    done[0] = reached

            engine_run = self._runner.run(pinned, on_progress)
        with progress.task("analyse and store"):
            starting_equity = self._starting_equity(pinned)
            curve = build_equity_curve(engine_run.fills, prices, starting_equity)
            metrics = compute_metrics(
                curve, engine_run.positions, engine_run.fills, starting_equity
            )
            attribution = attribute(engine_run.fills, engine_run.positions, prices, starting_equity)
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
            )
            artifacts = RunArtifacts(
                fills=engine_run.fills, positions=engine_run.positions, curve=curve, prices=prices
            )
            self._store.save(result, artifacts, self._renderer.render(result, artifacts))
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
