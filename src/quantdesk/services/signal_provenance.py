"""Signal -> decision -> fill: the provenance section of a backtest that replayed signals.

Built only from what the run recorded (signals strategies consumed, the gate's decisions on
orders taken on them, fills carrying their order's signal id), so it is as reproducible as
the fills themselves.
"""

from collections import Counter
from collections.abc import Sequence

from quantdesk.domain.backtest import (
    FillRecord,
    SignalDataUsed,
    SignalDecision,
    SignalProvenance,
    SignalTrace,
    SignalUse,
)
from quantdesk.domain.record_log import as_log

UNKNOWN = "?"


def build_provenance(
    uses: Sequence[SignalUse],
    decisions: Sequence[SignalDecision],
    fills: Sequence[FillRecord],
    replayed: Sequence[SignalDataUsed],
) -> SignalProvenance:
    """Totals over the run and one trace per signal that led to at least one order.

    A decision on an id no strategy was handed (a strategy inventing ids) is still traced,
    with unknown type and source, rather than hidden.
    """
    first_use: dict[str, SignalUse] = {}
    users: dict[str, set[str]] = {}
    for use in uses:
        first_use.setdefault(use.signal_id, use)
        users.setdefault(use.signal_id, set()).add(use.strategy_id)
    approved: Counter[str] = Counter()
    denied: Counter[str] = Counter()
    for decision in decisions:
        (approved if decision.approved else denied)[decision.signal_id] += 1
        users.setdefault(decision.signal_id, set()).add(decision.strategy_id)
    filled = Counter(s for s in as_log(FillRecord, fills).column("signal_id") if s is not None)
    traces = []
    for signal_id in {d.signal_id for d in decisions}:
        found = first_use.get(signal_id)
        traces.append(
            SignalTrace(
                signal_id=signal_id,
                signal_type=found.signal_type if found else UNKNOWN,
                instrument_id=found.instrument_id if found else UNKNOWN,
                ts_init=found.ts_init if found else 0,
                source_model=found.source_model if found else UNKNOWN,
                trace_id=found.trace_id if found else UNKNOWN,
                strategies=sorted(users[signal_id]),
                orders=approved[signal_id] + denied[signal_id],
                orders_approved=approved[signal_id],
                orders_denied=denied[signal_id],
                fills=filled[signal_id],
            )
        )
    traces.sort(key=lambda t: (t.ts_init, t.signal_id))
    on_signals = sum(filled.values())
    return SignalProvenance(
        signals_replayed=sum(r.signals for r in replayed),
        signals_consumed=len(first_use),
        signals_acted_on=len(traces),
        orders=len(decisions),
        orders_approved=sum(approved.values()),
        orders_denied=sum(denied.values()),
        fills_on_signals=on_signals,
        fills_without_signal=len(fills) - on_signals,
        traces=traces,
    )
