"""Stress scenarios: the version run on data that never happened, and on the worst days that did.

Each scenario becomes one trial (``StressCase.spec``) or is skipped with the reason:

- data scenarios (``gap_down``, ``flash_crash``, ``volatility_x3``, ``feed_outage``): the
  request's bars copied into a scratch catalog through a transform of
  ``stress_transforms`` (where the shock lands, between 25% and 65% of the range, is drawn
  from the policy seed: every instrument is hit at the same time, a market-wide shock), the
  trial run on that root;
- request scenarios (``wide_spread``, ``fee_shock``): the same data, every venue the version
  trades made costlier;
- ``historical``: named market crises (``HISTORICAL_WINDOWS``) run on the real catalog when
  the request's range covers the whole window; a window it does not cover is a skipped row
  with the reason (not a failure: the data cannot show it).

``stress_section`` compares every outcome with the policy's ``max_stress_loss`` and reports
whether the risk layer's kill switch or drawdown controls fired. A data or request scenario
that could not be prepared or whose trial failed makes the loss check fail: no evidence, no
pass. The real catalog's checksums before and after are a check of their own.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from quantdesk.domain.backtest import BacktestRequest, VenueSpec, venue_names_of
from quantdesk.domain.backtest_plan import bar_step_ns
from quantdesk.domain.errors import QuantdeskError
from quantdesk.domain.market_data import BarSpec, bar_type_id
from quantdesk.domain.numbers import FEE_RATE_MAX
from quantdesk.domain.time import describe_ns
from quantdesk.domain.trials import TrialOutcome, TrialSpec
from quantdesk.domain.validation.policy import StressScenarioName, Thresholds
from quantdesk.domain.validation.report import Check, StressRow, StressSection, ValidationStep
from quantdesk.services.ports.scratch import BarTransform, ScratchCatalogs
from quantdesk.services.validation import stress_transforms as shapes
from quantdesk.services.validation.checks import loss_at_most

STEP = ValidationStep.STRESS
DAY_NS = 86_400_000_000_000

GAP_FRACTION = 0.20
CRASH_DEPTH = 0.10
CRASH_FALL_BARS = 5
CRASH_RECOVERY_BARS = 30
VOLATILITY_FACTOR = 3.0
OUTAGE_SHARE = 0.10  # of the range, at most a day (at least 5 bars of the coarsest type)
SLIPPAGE_PROB = 1.0  # every market order one tick worse
SPREAD_FACTOR = 5  # a configured bid/ask spread widened this much
FEE_FACTOR = 5
FEE_FLOOR_TAKER = Decimal("0.002")  # 20 bp: a venue keeping the instruments' own fees
FEE_FLOOR_MAKER = Decimal("0.001")
DATA_SCENARIOS = ("gap_down", "flash_crash", "volatility_x3", "feed_outage")
_SALT = {name: index + 1 for index, name in enumerate(DATA_SCENARIOS)}
KILL_SWITCH_PREFIX = "kill_switch_"  # the risk layer's rule for a thrown kill switch
DRAWDOWN_RULES = frozenset({"max_drawdown_pct", "max_daily_loss", "max_daily_loss_pct"})


def _day(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * 1_000_000_000


@dataclass(frozen=True)
class HistoricalWindow:
    name: str
    description: str
    start_ns: int
    end_ns: int  # inclusive: the last nanosecond of the last day


def _window(name: str, description: str, first: str, last: str) -> HistoricalWindow:
    return HistoricalWindow(name, description, _day(first), _day(last) + DAY_NS - 1)


HISTORICAL_WINDOWS: tuple[HistoricalWindow, ...] = (
    _window("gfc_2008", "2008 financial crisis (Lehman, Sep-Nov 2008)", "2008-09-01", "2008-11-30"),
    _window("flash_crash_2010", "flash crash of 6 May 2010", "2010-05-06", "2010-05-06"),
    _window("august_2015", "China devaluation selloff, 24 Aug 2015", "2015-08-20", "2015-08-28"),
    _window("volmageddon_2018", "volatility spike of Feb 2018", "2018-02-02", "2018-02-09"),
    _window("covid_2020", "COVID crash, 20 Feb - 7 Apr 2020", "2020-02-20", "2020-04-07"),
    _window("rates_2022", "2022 rate hikes bear market", "2022-01-03", "2022-10-14"),
)


@dataclass(frozen=True)
class StressCase:
    """One scenario as prepared: a trial to run (``spec``; ``spec.catalog`` set when the data
    was changed) or the reason it was not (``skipped``)."""

    scenario: str  # the policy's scenario name; "historical:<window>" for a named window
    description: str
    spec: TrialSpec | None
    skipped: str | None = None

    @property
    def required(self) -> bool:
        """Whether a missing result fails the step (a historical window outside the data
        does not: it is reported as not covered)."""
        return not self.scenario.startswith("historical")


def prepare_stress(
    request: BacktestRequest,
    scenarios: Sequence[StressScenarioName],
    scratch: ScratchCatalogs,
    *,
    key_prefix: str,
    seed: int,
) -> list[StressCase]:
    """The cases of ``scenarios`` for the pinned ``request`` (range pinned to the data).
    Scratch catalogs are created here; the caller removes them (``spec.catalog``) after the
    trials ran, e.g. with ``remove_scratch``. A data scenario whose catalog cannot be made
    is a skipped case with the reason (and fails the step)."""
    if request.start_ns is None or request.end_ns is None or not request.pinned:
        raise ValueError("prepare_stress needs a pinned request with its range")
    start, end = request.start_ns, request.end_ns
    bar_types = _bar_types(request)
    cases: list[StressCase] = []
    for scenario in dict.fromkeys(scenarios):
        key = f"{key_prefix}{scenario}"
        if scenario in DATA_SCENARIOS:
            transform, description = _data_scenario(scenario, start, end, bar_types, seed)
            cases.append(
                _scratch_case(scenario, description, key, request, bar_types, transform, scratch)
            )
        elif scenario == "wide_spread":
            cases.append(_venue_case(scenario, key, request, _widened))
        elif scenario == "fee_shock":
            cases.append(_venue_case(scenario, key, request, _fees_shocked))
        elif scenario == "historical":
            cases.extend(_historical_cases(request, key_prefix))
    return cases


def remove_scratch(cases: Sequence[StressCase], scratch: ScratchCatalogs) -> None:
    """Remove every scratch catalog the cases were prepared on."""
    for root in sorted({c.spec.catalog for c in cases if c.spec and c.spec.catalog}):
        scratch.remove(root)


def _bar_types(request: BacktestRequest) -> list[str]:
    found = {
        bar_type_id(instrument, BarSpec.parse(definition.bar_spec))
        for definition in request.pinned
        for instrument in definition.instruments
    }
    return sorted(found)


def shock_ns(scenario: str, start_ns: int, end_ns: int, seed: int) -> int:
    """Where a data scenario's shock lands: between 25% and 65% of the range, drawn from the
    policy seed and the scenario (same seed, same place)."""
    rng = np.random.default_rng([seed, _SALT[scenario]])
    share = 0.25 + 0.40 * float(rng.random())
    return start_ns + int((end_ns - start_ns) * share)


def _data_scenario(
    scenario: str, start: int, end: int, bar_types: Sequence[str], seed: int
) -> tuple[BarTransform, str]:
    at = shock_ns(scenario, start, end, seed)
    when = describe_ns(at)
    if scenario == "gap_down":
        text = f"prices gap {GAP_FRACTION:.0%} down at {when} and stay there"
        return shapes.gap_down(at, GAP_FRACTION), text
    if scenario == "flash_crash":
        text = (
            f"a {CRASH_DEPTH:.0%} fall over {CRASH_FALL_BARS} bars from {when}, "
            f"recovered over {CRASH_RECOVERY_BARS} bars"
        )
        return (
            shapes.flash_crash(at, CRASH_DEPTH, CRASH_FALL_BARS, CRASH_RECOVERY_BARS),
            text,
        )
    if scenario == "volatility_x3":
        text = f"log returns around their mean x{VOLATILITY_FACTOR:g}, from the first price"
        return shapes.volatility_scaled(VOLATILITY_FACTOR), text
    coarsest = max((bar_step_ns(b) for b in bar_types), default=0)
    length = min(int((end - start) * OUTAGE_SHARE), max(DAY_NS, 5 * coarsest))
    last = at + max(length, 1) - 1
    text = f"feed outage: no bars from {when} to {describe_ns(last)}"
    return shapes.feed_outage(at, last), text


def _scratch_case(
    scenario: str,
    description: str,
    key: str,
    request: BacktestRequest,
    bar_types: Sequence[str],
    transform: BarTransform,
    scratch: ScratchCatalogs,
) -> StressCase:
    assert request.start_ns is not None and request.end_ns is not None
    try:
        root = scratch.create(
            scenario,
            bar_types,
            request.start_ns,
            request.end_ns,
            transform,
            with_signals=request.replays_signals,
        )
    except QuantdeskError as error:
        return StressCase(scenario, description, None, f"no scratch catalog: {error.message}")
    spec = TrialSpec(key=key, request=request, catalog=root)
    return StressCase(scenario, description, spec)


def _venues(request: BacktestRequest, change: Callable[[VenueSpec], VenueSpec]) -> list[VenueSpec]:
    """Every venue the version trades changed (the request's settings or the defaults, and
    validated again: a shocked fee stays a fee rate); the request's other venues as they are."""
    traded = venue_names_of([i for d in request.pinned for i in d.instruments])
    changed = [
        VenueSpec.model_validate(change(request.venue(name)).model_dump()) for name in traded
    ]
    return changed + [v for v in request.venues if v.name not in traded]


def _widened(venue: VenueSpec) -> VenueSpec:
    spread = None if venue.bar_spread is None else venue.bar_spread * SPREAD_FACTOR
    fill = venue.fill_model.model_copy(update={"prob_slippage": SLIPPAGE_PROB})
    return venue.model_copy(update={"bar_spread": spread, "fill_model": fill})


def _shock_fee(rate: Decimal | None, floor: Decimal) -> Decimal:
    shocked = floor if rate is None else max(rate * FEE_FACTOR, floor)
    return min(shocked, FEE_RATE_MAX)


def _fees_shocked(venue: VenueSpec) -> VenueSpec:
    return venue.model_copy(
        update={
            "taker_fee": _shock_fee(venue.taker_fee, FEE_FLOOR_TAKER),
            "maker_fee": _shock_fee(venue.maker_fee, FEE_FLOOR_MAKER),
        }
    )


_VENUE_TEXT = {
    "wide_spread": f"every market order slips a tick (prob_slippage {SLIPPAGE_PROB:g}), "
    f"bid/ask bar spreads x{SPREAD_FACTOR}",
    "fee_shock": f"maker and taker fees x{FEE_FACTOR} (at least {FEE_FLOOR_TAKER * 10_000:g} bp "
    f"taker, {FEE_FLOOR_MAKER * 10_000:g} bp maker)",
}


def _venue_case(
    scenario: str, key: str, request: BacktestRequest, change: Callable[[VenueSpec], VenueSpec]
) -> StressCase:
    venues = _venues(request, change)
    spec = TrialSpec(key=key, request=request.model_copy(update={"venues": venues}))
    return StressCase(scenario, _VENUE_TEXT[scenario], spec)


def _historical_cases(request: BacktestRequest, key_prefix: str) -> list[StressCase]:
    assert request.start_ns is not None and request.end_ns is not None
    start, end = request.start_ns, request.end_ns
    cases = []
    for window in HISTORICAL_WINDOWS:
        scenario = f"historical:{window.name}"
        if start <= window.start_ns and window.end_ns <= end:
            update = {"start_ns": window.start_ns, "end_ns": window.end_ns}
            spec = TrialSpec(
                key=f"{key_prefix}historical-{window.name}",
                request=request.model_copy(update=update),
            )
            cases.append(StressCase(scenario, window.description, spec))
            continue
        reason = (
            f"the data ({describe_ns(start)} .. {describe_ns(end)}) does not cover "
            f"{describe_ns(window.start_ns)} .. {describe_ns(window.end_ns)}"
        )
        cases.append(StressCase(scenario, window.description, None, reason))
    return cases


# the section ---------------------------------------------------------------------------


def _outcome_for(
    case: StressCase,
    outcomes: Sequence[TrialOutcome] | Mapping[str, TrialOutcome],
    ran: list[StressCase],
) -> TrialOutcome | None:
    if case.spec is None:
        return None
    if isinstance(outcomes, Mapping):
        return outcomes.get(case.spec.key)
    index = ran.index(case)
    return outcomes[index] if index < len(outcomes) else None


def stress_row(case: StressCase, outcome: TrialOutcome | None, limit: float | None) -> StressRow:
    """One scenario's row: loss is ``-total_return`` when negative; passed when its trial ran
    and the loss is within ``limit`` (a not-covered historical window passes, skipped)."""
    fired = outcome.risk_counts if outcome is not None else {}
    drawdown = any(fired.get(rule, 0) > 0 for rule in DRAWDOWN_RULES)
    kill = any(k.startswith(KILL_SWITCH_PREFIX) and n > 0 for k, n in fired.items())
    metrics = outcome.metrics if outcome is not None and outcome.ok else None
    skipped = case.skipped
    if case.spec is not None and metrics is None:
        reason = "no outcome" if outcome is None else f"{outcome.code}: {outcome.error}"
        skipped = f"the trial failed: {reason}"
    loss = None if metrics is None else max(0.0, -metrics.total_return)
    if loss is None:
        passed = not case.required and case.spec is None
    else:
        passed = limit is None or loss <= limit
    return StressRow(
        scenario=case.scenario,
        description=case.description,
        total_return=None if metrics is None else metrics.total_return,
        max_drawdown=None if metrics is None else metrics.max_drawdown,
        loss=loss,
        risk_events=sum(fired.values()),
        kill_switch_fired=kill or (outcome is not None and outcome.halted and not drawdown),
        drawdown_control_fired=drawdown,
        fingerprint="" if outcome is None else outcome.fingerprint,
        passed=passed,
        skipped=skipped,
    )


def stress_section(
    cases: Sequence[StressCase],
    outcomes: Sequence[TrialOutcome] | Mapping[str, TrialOutcome],
    thresholds: Thresholds,
    before: str,
    after: str,
) -> tuple[StressSection, list[Check]]:
    """Rows and checks: ``outcomes`` are the run cases' (in the order of the cases that have a
    spec, or keyed by trial key); ``before``/``after`` the real catalog's checksums.

    Checks: ``stress_loss`` (the worst loss <= ``max_stress_loss``; no value, so
    failing, when a required scenario has no result or any trial failed) and
    ``stress_catalog_untouched`` (always: the checksums are equal)."""
    ran = [c for c in cases if c.spec is not None]
    limit = thresholds.max_stress_loss
    rows = [stress_row(c, _outcome_for(c, outcomes, ran), limit) for c in cases]
    missing = [  # a required scenario without a result, or any trial that failed
        r.scenario
        for r, c in zip(rows, cases, strict=True)
        if r.loss is None and (c.required or c.spec is not None)
    ]
    losses = [r.loss for r in rows if r.loss is not None]
    worst = max(losses) if losses and not missing else None
    if missing:
        detail = "no result for " + ", ".join(missing)
    elif not losses:
        detail = "no scenario ran"
    else:
        name = max((r for r in rows if r.loss is not None), key=lambda r: r.loss or 0.0)
        detail = f"worst: {name.scenario}"
    checks = loss_at_most("stress_loss", STEP, None if worst is None else -worst, limit, detail)
    untouched = before == after
    checks.append(
        Check(
            name="stress_catalog_untouched",
            step=STEP,
            passed=untouched,
            value=1.0 if untouched else 0.0,
            threshold=1.0,
            comparison="==",
            detail="real catalog checksum "
            + ("unchanged" if untouched else f"changed: {before[:12]} -> {after[:12]}"),
        )
    )
    section = StressSection(
        scenarios=rows, catalog_checksum_before=before, catalog_checksum_after=after
    )
    return section, checks
