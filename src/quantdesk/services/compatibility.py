"""Compatibility validation: can this registry version run on this desk? (issue 13 item 4)

Every check runs and reports, in order: translation (definition -> engine spec -> the config
the engine decodes), class (built-in, or a plug-in allowed by policy, imported and audited in
a child process: a ``QuantdeskStrategy`` placing no order past the risk gate), data
(instruments and bar spec in the catalog, with bars), signals (subscribed types in the buffer,
only when replay is asked), risk (constraints that leave the strategy able to trade) and a
smoke backtest (a short real run in a child process killed at a time limit). A check that
needs what an earlier one refused (a smoke run of a class that does not import, of data that
is not there) is skipped and says why; only the problems make a version invalid.

Missing data is a problem, not "cannot validate yet": a version is validated against this
desk's catalog, and is validated again (``strategy validate``) once the data is ingested.
"""

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from quantdesk.domain.backtest import StrategySpec
from quantdesk.domain.compatibility import Check, CompatibilityProblem, CompatibilityReport
from quantdesk.domain.market_data import BarSpec, bar_type_id
from quantdesk.domain.market_feeds import tick_kind
from quantdesk.domain.risk import RiskConstraints
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.families import CustomParameters
from quantdesk.domain.strategies.versions import StrategyAction, StrategyChange, StrategyVersion
from quantdesk.domain.ticks import TickKind
from quantdesk.services.plugins import PluginGate, PluginRefusedError, PluginUse
from quantdesk.services.ports import ConfigSchemaChecker, MarketDataCatalog, SignalStore
from quantdesk.services.ports.compatibility import (
    PluginAuditor,
    SmokeRunner,
    SmokeWindow,
    ValidationStore,
)
from quantdesk.services.ports.plugins import PluginClass
from quantdesk.services.translation import to_spec

log = logging.getLogger(__name__)
Decode = Callable[[StrategySpec], object]
"""The engine's own decoding of a spec into its config object (adapters.nautilus.translate)."""
_ALL_TIME = (0, 2**63 - 1)


class CompatibilityChecker:
    """Checks versions, keeps each outcome in the ``ValidationStore``, listens to the registry."""

    def __init__(
        self,
        catalog: MarketDataCatalog,
        store: ValidationStore,
        *,
        decode: Decode,
        engine_version: str,
        plugins: PluginGate,
        auditor: PluginAuditor | None,
        schemas: ConfigSchemaChecker | None = None,
        signals: SignalStore | None = None,
        smoke: SmokeRunner | None = None,
        smoke_bars: int = 100,
        smoke_seconds: float = 60.0,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._catalog = catalog
        self._store = store
        self._decode = decode
        self._engine_version = engine_version
        self._plugins = plugins
        self._auditor = auditor
        self._schemas = schemas
        self._signals = signals
        self._smoke = smoke
        self._smoke_bars = smoke_bars
        self._smoke_seconds = smoke_seconds
        self._clock = clock

    # --- use cases ---------------------------------------------------------------------------

    def check(
        self, version: StrategyVersion, *, replay_signals: bool = False, smoke: bool = True
    ) -> CompatibilityReport:
        """Every check on one stored version; the report is stored as its newest outcome."""
        definition = version.definition
        problems: list[CompatibilityProblem] = []
        skipped: list[CompatibilityProblem] = []
        translated = _collect(problems, Check.TRANSLATION, lambda: self._translation(definition))
        loads = _collect(problems, Check.CLASS, lambda: self._class(definition))
        has_data = _collect(problems, Check.DATA, lambda: self._data(definition))
        if replay_signals:
            _collect(problems, Check.SIGNALS, lambda: self._signal_data(definition))
        _collect(problems, Check.RISK, lambda: _risk(definition))
        seconds = None
        blocked = [c.value for c, ok in _prerequisites(translated, loads, has_data) if not ok]
        if not smoke or self._smoke is None:
            skipped.append(CompatibilityProblem(Check.SMOKE, "smoke backtests are switched off"))
        elif blocked:
            skipped.append(
                CompatibilityProblem(Check.SMOKE, f"not run: the {', '.join(blocked)} check failed")
            )
        else:
            window = SmokeWindow(self._smoke_bars, self._smoke_seconds, replay_signals)
            outcome = self._smoke.run(definition, window)
            seconds = outcome.seconds
            if outcome.problem is not None:
                problems.append(CompatibilityProblem(Check.SMOKE, outcome.problem))
        report = CompatibilityReport(
            strategy_id=version.strategy_id,
            version=version.version,
            content_hash=version.content_hash,
            problems=tuple(problems),
            checked_at_ns=self._clock(),
            engine_version=self._engine_version,
            skipped=tuple(skipped),
            smoke_seconds=seconds,
        )
        self._store.save(report)
        return report

    def latest(self, version: StrategyVersion) -> CompatibilityReport | None:
        """The newest outcome of this version (None: not validated yet)."""
        return self._store.latest(version.strategy_id, version.version)

    def outcomes(self, strategy_id: str) -> dict[int, CompatibilityReport]:
        return self._store.latest_of(strategy_id)

    def listener(
        self, get: Callable[[str, int], StrategyVersion], *, smoke: bool = True
    ) -> Callable[[StrategyChange], None]:
        """For ``registry.subscribe``: each new version is translated and validated (Property
        13); tags and deprecations change no content and are not re-checked."""

        def on_change(change: StrategyChange) -> None:
            if change.action is StrategyAction.REGISTERED:
                report = self.check(get(change.strategy_id, change.version), smoke=smoke)
                log.info("%s: %s", report.ref, report.summary())

        return on_change

    # --- checks (each returns whether what it checked is usable; problems are raised) ----------

    def _translation(self, definition: StrategyDefinition) -> bool:
        spec = to_spec(definition)
        if isinstance(definition.parameters, CustomParameters):
            return True  # its config class is a plug-in's: decoded in the smoke child only
        self._decode(spec)
        return True

    def _class(self, definition: StrategyDefinition) -> bool:
        params = definition.parameters
        if not isinstance(params, CustomParameters):
            return True  # a family: quantdesk's own class (scanned by the gate test)
        reasons: list[str] = []
        if self._schemas is not None:
            refusal = self._schemas.schema_problem(params.config_schema)
            found = (
                [("", refusal)]
                if refusal is not None
                else self._schemas.problems(params.config_schema, params.config)
            )
            reasons += [f"config{where or ''}: {message}" for where, message in found]
        plugin = PluginClass(params.strategy_path, params.config_path)
        try:
            self._plugins.check([PluginUse("parameters.", plugin)])
        except PluginRefusedError as error:
            raise _CheckFailedError([*reasons, error.message]) from None
        if self._auditor is None:
            reasons.append("this desk has no way to check plug-ins (only built-ins can run)")
        else:
            finding = self._auditor.audit([plugin])[0]
            if finding.problem is not None:
                reasons.append(f"{params.strategy_path}: {finding.problem}")
        if reasons:
            raise _CheckFailedError(reasons)
        return True

    def _data(self, definition: StrategyDefinition) -> bool:
        spec = BarSpec.parse(definition.bar_spec)
        reasons: list[str] = []
        market_data = definition.market_data
        ticks = tick_kind(market_data)
        held = set() if ticks is None else self._tick_series(ticks)
        for instrument in definition.instruments:
            if self._catalog.instrument(instrument) is None:
                reasons.append(f"instrument {instrument} is not in the catalog")
                continue
            if ticks is not None:
                if instrument not in held:
                    reasons.append(f"no {ticks.long_noun} of {instrument}")
                continue
            bar_type = bar_type_id(instrument, spec)
            count, _, _ = self._catalog.bar_span(bar_type, *_ALL_TIME)
            if count == 0:
                reasons.append(f"no {definition.bar_spec} bars of {instrument} ({bar_type})")
        if reasons:
            raise _CheckFailedError(reasons)
        return True

    def _tick_series(self, kind: TickKind) -> set[str]:
        """Instruments the catalog holds rows of ``kind`` for (trade ticks, ...)."""
        return {e.instrument_id for e in self._catalog.entries() if e.data_type == kind and e.count}

    def _signal_data(self, definition: StrategyDefinition) -> bool:
        if self._signals is None:
            raise _CheckFailedError(["this desk has no signal buffer to replay from"])
        held: dict[str, int] = {}
        for (signal_type, _), count in self._signals.counts().items():
            held[signal_type] = held.get(signal_type, 0) + count
        missing = [t.value for t in definition.signal_subscriptions if not held.get(t.value)]
        if missing:
            raise _CheckFailedError([f"no {t} signals in the buffer to replay" for t in missing])
        return True


class _CheckFailedError(Exception):
    """Several reasons of one check (a check names all it finds, not the first)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def _collect(problems: list[CompatibilityProblem], check: Check, run: Callable[[], bool]) -> bool:
    """Run one check; its failure becomes problems, never an exception that hides the rest."""
    try:
        return run()
    except _CheckFailedError as failed:
        problems += [CompatibilityProblem(check, reason) for reason in failed.reasons]
    except Exception as error:  # the engine's decode, a plug-in's config: anything
        message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
        problems.append(CompatibilityProblem(check, str(message)))
    return False


def _prerequisites(translated: bool, loads: bool, has_data: bool) -> list[tuple[Check, bool]]:
    return [(Check.TRANSLATION, translated), (Check.CLASS, loads), (Check.DATA, has_data)]


def _risk(definition: StrategyDefinition) -> bool:
    """Constraints the strategy cannot trade under (the gate would deny every entry)."""
    risk: RiskConstraints = definition.risk
    reasons: list[str] = []
    size = _trade_size(definition.parameters)
    if size is not None and not risk.allow_reduce:
        for field in ("max_position", "max_order_quantity"):
            limit = getattr(risk, field)
            if limit is not None and limit < size:
                reasons.append(
                    f"risk.{field} {limit} is below the trade size {size} and allow_reduce is "
                    "off: every entry would be denied"
                )
    if risk.allowed_instruments is not None:
        outside = sorted(set(definition.instruments) - set(risk.allowed_instruments))
        if outside:
            reasons.append(
                f"risk.allowed_instruments leaves out {', '.join(outside)}, which the "
                "definition trades"
            )
    side = getattr(definition.parameters, "side", None)
    if risk.long_only and str(getattr(side, "value", side)).lower() == "sell":
        reasons.append("risk.long_only forbids the sell orders this execution places")
    if reasons:
        raise _CheckFailedError(reasons)
    return True


def _trade_size(parameters: Any) -> Any:
    values: Mapping[str, Any] = parameters.model_dump() if hasattr(parameters, "model_dump") else {}
    return values.get("trade_size", values.get("total_quantity"))
