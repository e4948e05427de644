"""Periods and regimes: the range cut into consecutive periods, each labelled by its regime.

A strategy that earns in one calm stretch and loses everywhere else has a good full-range
backtest and no edge; per-period and per-regime metrics show it, and the worst period and
regime are named. The label of a period is the majority label of its bars: from the built-in
regime model (``quantdesk.regime.vol_trend`` on the first instrument's closes, features from
the past only) or, when the strategy subscribes to REGIME_PREDICTION signals and the buffer
holds some for the range, from those signals (what the strategy itself would have seen).
"""

from collections import Counter
from collections.abc import Sequence

import numpy as np

from quantdesk.domain.market_data import BarSpec, bar_type_id
from quantdesk.domain.signals import RegimeValue, SignalType
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.trials import TrialOutcome
from quantdesk.domain.validation.policy import Thresholds
from quantdesk.domain.validation.report import (
    Check,
    PeriodRow,
    PeriodsSection,
    RegimeRow,
    ValidationStep,
)
from quantdesk.services.columns import Float64Array, Int64Array
from quantdesk.services.performance import DAY_NS
from quantdesk.services.ports import MarketDataCatalog, SignalStore
from quantdesk.services.signal_producers.regime import (
    REGIME_LABELS,
    RegimeConfig,
    RegimeProducer,
    classify_regimes,
)
from quantdesk.services.validation.checks import at_least

UNKNOWN_REGIME = "unknown"  # a period inside the model's warm-up (or without signals)
BUILTIN_SOURCE = RegimeProducer.source_model


def period_ranges(start_ns: int, end_ns: int, periods: int) -> list[tuple[int, int]]:
    """``periods`` consecutive inclusive ranges covering ``[start_ns, end_ns]``, cut on whole
    UTC days from the start when the range holds enough of them (daily metrics need days);
    fewer when it does not. Empty when the range is shorter than two days."""
    days = (end_ns - start_ns) // DAY_NS
    count = min(periods, int(days))
    if count < 2:
        return []
    cuts = [start_ns + (days * i // count) * DAY_NS for i in range(count + 1)]
    cuts[-1] = end_ns + 1
    return [(cuts[i], cuts[i + 1] - 1) for i in range(count)]


def bar_labels(closes: Float64Array, config: RegimeConfig | None = None) -> list[str]:
    """The built-in model's label at every bar (``UNKNOWN_REGIME`` during its warm-up)."""
    labels = [UNKNOWN_REGIME] * int(closes.shape[0])
    if closes.shape[0] < 2:
        return labels
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.diff(np.log(closes))
    features = classify_regimes(returns, config or RegimeConfig())
    probabilities = features.probabilities
    finite = np.all(np.isfinite(probabilities), axis=1)
    best = np.argmax(np.where(np.isfinite(probabilities), probabilities, -1.0), axis=1)
    for j in np.flatnonzero(finite).tolist():
        labels[j + 1] = REGIME_LABELS[int(best[j])]
    return labels


def majority(labels: Sequence[str]) -> str:
    """The most common known label (ties: the first in ``REGIME_LABELS`` order, then by name)."""
    counts = Counter(label for label in labels if label != UNKNOWN_REGIME)
    if not counts:
        return UNKNOWN_REGIME
    order = {label: i for i, label in enumerate(REGIME_LABELS)}
    return min(counts, key=lambda label: (-counts[label], order.get(label, 99), label))


class RegimeLabeller:
    """Labels periods for one strategy version: by its regime signals or the built-in model."""

    def __init__(self, catalog: MarketDataCatalog, signals: SignalStore | None) -> None:
        self._catalog = catalog
        self._signals = signals

    def label(
        self, definition: StrategyDefinition, ranges: Sequence[tuple[int, int]]
    ) -> tuple[str, list[str]]:
        """(regime source, one label per range)."""
        if not ranges:
            return BUILTIN_SOURCE, []
        instrument = definition.instruments[0]
        start_ns, end_ns = ranges[0][0], ranges[-1][1]
        if SignalType.REGIME_PREDICTION in definition.signal_subscriptions:
            found = self._from_signals(instrument, start_ns, end_ns, ranges)
            if found is not None:
                return found
        bar_type = bar_type_id(instrument, BarSpec.parse(definition.bar_spec))
        ts, closes = self._catalog.read_closes(bar_type, start_ns, end_ns)
        return BUILTIN_SOURCE, _per_range(ts, bar_labels(closes), ranges)

    def _from_signals(
        self, instrument: str, start_ns: int, end_ns: int, ranges: Sequence[tuple[int, int]]
    ) -> tuple[str, list[str]] | None:
        if self._signals is None:
            return None
        self._signals.flush()
        found = self._signals.query(
            signal_types=[SignalType.REGIME_PREDICTION.value],
            instrument_ids=[instrument],
            start_ns=start_ns,
            end_ns=end_ns,
        )
        regimes = [s for s in found if isinstance(s.value, RegimeValue)]
        if not regimes:
            return None
        models = Counter(s.source_model for s in regimes)
        source = min(models, key=lambda m: (-models[m], m))
        chosen = [s for s in regimes if s.source_model == source]
        ts = np.asarray([s.ts_event for s in chosen], np.int64)
        labels = [s.value.label for s in chosen if isinstance(s.value, RegimeValue)]
        return source, _per_range(ts, labels, ranges)


def _per_range(
    ts: Int64Array, labels: Sequence[str], ranges: Sequence[tuple[int, int]]
) -> list[str]:
    out = []
    for start, end in ranges:
        lo, hi = np.searchsorted(ts, start, "left"), np.searchsorted(ts, end, "right")
        out.append(majority(labels[int(lo) : int(hi)]))
    return out


def period_row(
    index: int, start_ns: int, end_ns: int, regime: str, outcome: TrialOutcome
) -> PeriodRow:
    metrics = outcome.metrics
    return PeriodRow(
        index=index,
        start_ns=start_ns,
        end_ns=end_ns,
        regime=regime,
        total_return=None if metrics is None else metrics.total_return,
        sharpe=None if metrics is None else metrics.sharpe,
        max_drawdown=None if metrics is None else metrics.max_drawdown,
        trades=0 if metrics is None else metrics.trade_count,
        fingerprint=outcome.fingerprint,
        error=outcome.error,
    )


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known else None


def periods_section(
    source: str, rows: Sequence[PeriodRow], thresholds: Thresholds
) -> tuple[PeriodsSection, list[Check]]:
    """Per-regime aggregates, the worst period (lowest return) and regime (lowest mean
    return), and the worst-period check."""
    regimes: list[RegimeRow] = []
    for regime in sorted({r.regime for r in rows}):
        mine = [r for r in rows if r.regime == regime]
        drawdowns = [r.max_drawdown for r in mine if r.max_drawdown is not None]
        regimes.append(
            RegimeRow(
                regime=regime,
                periods=len(mine),
                mean_return=_mean([r.total_return for r in mine]),
                mean_sharpe=_mean([r.sharpe for r in mine]),
                worst_drawdown=min(drawdowns) if drawdowns else None,
            )
        )
    scored = [r for r in rows if r.total_return is not None]
    worst = min(scored, key=lambda r: (r.total_return, r.index)) if scored else None
    ranked = [r for r in regimes if r.mean_return is not None]
    worst_regime = min(ranked, key=lambda r: (r.mean_return, r.regime)) if ranked else None
    failed = [r for r in rows if r.error is not None]
    detail = f"{len(failed)} period(s) failed to run" if failed else ""
    value = None if failed or worst is None else worst.total_return
    checks = at_least(
        "worst_period_return",
        ValidationStep.PERIODS,
        value,
        thresholds.min_worst_period_return,
        detail or ("" if worst is None else f"period {worst.index} ({worst.regime})"),
    )
    if failed:  # a period the version cannot run in is evidence missing, whatever the policy
        first = failed[0]
        checks.append(
            Check(
                name="periods_ran",
                step=ValidationStep.PERIODS,
                passed=False,
                value=float(len(failed)),
                threshold=0.0,
                comparison="<=",
                detail=f"{len(failed)} of {len(rows)} period(s) did not run; period "
                f"{first.index}: {first.error}",
            )
        )
    section = PeriodsSection(
        regime_source=source,
        periods=list(rows),
        regimes=regimes,
        worst_period=None if worst is None else worst.index,
        worst_regime=None if worst_regime is None else worst_regime.regime,
    )
    return section, checks
