"""Stress cases from a policy's scenarios, and the section and checks made of their outcomes
(a fake scratch catalog: it records what it was asked and applies the transform to arrays)."""

from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import pytest

from quantdesk.domain.backtest import BacktestRequest, Metrics, VenueSpec
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.trials import TrialOutcome
from quantdesk.domain.validation.policy import ALL_STRESS_SCENARIOS, Thresholds
from quantdesk.services.columns import BarColumns
from quantdesk.services.ports.scratch import BarTransform, ScratchCatalogs
from quantdesk.services.validation.stress import (
    HISTORICAL_WINDOWS,
    StressCase,
    prepare_stress,
    remove_scratch,
    shock_ns,
    stress_section,
)
from support.trial_specs import candidate, pinned_request

DAY = 86_400_000_000_000
T0 = 1_704_067_200_000_000_000  # 2024-01-01
MINUTE = 60_000_000_000


class FakeScratch:
    def __init__(self, fail: str | None = None) -> None:
        self.created: dict[str, tuple[str, list[str], int, int, BarTransform, bool]] = {}
        self.removed: list[str] = []
        self._fail = fail

    def create(
        self,
        name: str,
        bar_types: Sequence[str],
        start_ns: int,
        end_ns: int,
        transform: BarTransform,
        *,
        with_signals: bool = False,
    ) -> str:
        if name == self._fail:
            raise InvalidInputError("the catalog holds no bars in the range")
        root = f"/scratch/{name}-{len(self.created)}"
        self.created[root] = (name, list(bar_types), start_ns, end_ns, transform, with_signals)
        return root

    def remove(self, root: str) -> None:
        self.removed.append(root)

    def checksum(self) -> str:
        return "c" * 64


def request(start: int = T0, days: int = 2, **fields: object) -> BacktestRequest:
    definition = candidate("trend_following")
    return pinned_request(definition, start_ns=start, end_ns=start + days * DAY - 1, **fields)


def by_name(cases: list[StressCase]) -> dict[str, StressCase]:
    return {c.scenario: c for c in cases}


def test_every_scenario_becomes_a_case() -> None:
    scratch = FakeScratch()
    base = request()
    cases = prepare_stress(base, list(ALL_STRESS_SCENARIOS), scratch, key_prefix="s-", seed=7)
    named = by_name(cases)
    for scenario in ("gap_down", "flash_crash", "volatility_x3", "feed_outage"):
        spec = named[scenario].spec
        assert spec is not None and spec.catalog in scratch.created
        assert spec.key == f"s-{scenario}" and spec.request == base
        name, bar_types, start, end, _, signals = scratch.created[spec.catalog]
        assert name == scenario and bar_types == ["SYN01.SIM-1-MINUTE-LAST-EXTERNAL"]
        assert (start, end) == (base.start_ns, base.end_ns) and not signals
    spread = named["wide_spread"].spec
    assert spread is not None and spread.catalog is None
    assert [v.name for v in spread.request.venues] == ["SIM"]
    assert spread.request.venues[0].fill_model.prob_slippage == 1.0
    fees = named["fee_shock"].spec
    assert fees is not None and fees.catalog is None
    assert fees.request.venues[0].taker_fee == Decimal("0.002")
    assert fees.request.venues[0].maker_fee == Decimal("0.001")
    historical = [c for c in cases if c.scenario.startswith("historical:")]
    assert len(historical) == len(HISTORICAL_WINDOWS)
    assert all(c.spec is None and "does not cover" in str(c.skipped) for c in historical)
    assert len({c.spec.key for c in cases if c.spec}) == 6  # keys unique
    remove_scratch(cases, scratch)
    assert sorted(scratch.removed) == sorted(scratch.created)


def test_fee_shock_multiplies_configured_fees_and_keeps_other_venues() -> None:
    venues = [
        VenueSpec(name="SIM", taker_fee=Decimal("0.001"), maker_fee=Decimal("-0.0001")),
        VenueSpec(name="OTHER", bar_spread=Decimal("0.02")),
    ]
    cases = prepare_stress(
        request(venues=venues), ["fee_shock", "wide_spread"], FakeScratch(), key_prefix="", seed=0
    )
    fees, spread = (c.spec for c in cases)
    assert fees is not None and spread is not None
    sim = fees.request.venue("SIM")
    assert sim.taker_fee == Decimal("0.005") and sim.maker_fee == Decimal("0.001")
    assert spread.request.venue("OTHER") == venues[1]  # not traded: left alone
    assert spread.request.venue("SIM").fill_model.prob_slippage == 1.0


def test_a_covered_historical_window_runs_on_the_real_catalog() -> None:
    covid = next(w for w in HISTORICAL_WINDOWS if w.name == "covid_2020")
    base = request(start=covid.start_ns - 10 * DAY, days=80)
    cases = by_name(prepare_stress(base, ["historical"], FakeScratch(), key_prefix="", seed=0))
    spec = cases["historical:covid_2020"].spec
    assert spec is not None and spec.catalog is None
    assert (spec.request.start_ns, spec.request.end_ns) == (covid.start_ns, covid.end_ns)
    assert cases["historical:gfc_2008"].spec is None


def test_shocks_land_inside_the_range_by_seed() -> None:
    start, end = T0, T0 + 2 * DAY
    for scenario in ("gap_down", "flash_crash", "feed_outage"):
        at = shock_ns(scenario, start, end, 5)
        assert start + (end - start) // 4 <= at <= start + (end - start) * 65 // 100
        assert shock_ns(scenario, start, end, 5) == at
    assert shock_ns("gap_down", start, end, 5) != shock_ns("gap_down", start, end, 6)


def test_the_transforms_handed_over_shock_the_data_at_the_drawn_place() -> None:
    scratch = FakeScratch()
    base = request()
    cases = by_name(
        prepare_stress(base, ["gap_down", "feed_outage"], scratch, key_prefix="", seed=3)
    )
    n = 2 * 1440
    ts = T0 + MINUTE * np.arange(1, n + 1, dtype=np.int64)
    flat = np.full(n, 100.0)
    bars = BarColumns(ts, flat, flat + 1, flat - 1, flat, np.ones(n))
    gap = cases["gap_down"].spec
    assert gap is not None and gap.catalog is not None
    out = scratch.created[gap.catalog][4](bars)
    at = shock_ns("gap_down", T0, T0 + 2 * DAY - 1, 3)
    assert np.all(out.close[bars.ts_ns >= at] == 80.0) and np.all(out.close[bars.ts_ns < at] == 100)
    outage = cases["feed_outage"].spec
    assert outage is not None and outage.catalog is not None
    kept = scratch.created[outage.catalog][4](bars)
    assert 0 < n - len(kept) <= 1440 * 2 // 10 + 1


def test_a_scenario_without_its_catalog_is_skipped_and_fails() -> None:
    scratch = FakeScratch(fail="gap_down")
    cases = prepare_stress(request(), ["gap_down"], scratch, key_prefix="", seed=0)
    assert cases[0].spec is None and "no scratch catalog" in str(cases[0].skipped)
    section, checks = stress_section(cases, [], Thresholds(), "a", "a")
    worst = next(c for c in checks if c.name == "stress_loss")
    assert not worst.passed and worst.value is None and "gap_down" in worst.detail
    assert not section.scenarios[0].passed


def metrics(total_return: float, max_drawdown: float) -> Metrics:
    return Metrics.model_validate(
        {
            "start_equity": 100.0,
            "end_equity": 100.0 * (1 + total_return),
            "pnl": 100.0 * total_return,
            "total_return": total_return,
            "cagr": None,
            "annual_volatility": None,
            "sharpe": None,
            "sortino": None,
            "calmar": None,
            "max_drawdown": max_drawdown,
            "max_drawdown_duration_ns": 0,
            "trade_count": 3,
            "win_rate": None,
            "profit_factor": None,
            "avg_win": None,
            "avg_loss": None,
            "expectancy": None,
            "exposure": 0.5,
            "turnover": 1.0,
            "fees": 0.0,
            "periods_per_year": 365.0,
        }
    )


def outcome(key: str, total_return: float, **fields: object) -> TrialOutcome:
    return TrialOutcome(
        key=key,
        fingerprint=f"fp-{key}",
        metrics=metrics(total_return, min(0.0, total_return) - 0.01),
        **fields,
    )


def test_the_section_reports_losses_and_controls() -> None:
    cases = prepare_stress(
        request(),
        ["gap_down", "wide_spread", "fee_shock", "historical"],
        FakeScratch(),
        key_prefix="s-",
        seed=0,
    )
    outcomes = {
        "s-gap_down": outcome(
            "s-gap_down", -0.12, risk_counts={"max_drawdown_pct": 2}, halted=True
        ),
        "s-wide_spread": outcome("s-wide_spread", 0.03, risk_counts={"kill_switch_portfolio": 1}),
        "s-fee_shock": outcome("s-fee_shock", -0.01),
    }
    section, checks = stress_section(cases, outcomes, Thresholds(max_stress_loss=0.1), "x", "x")
    rows = {r.scenario: r for r in section.scenarios}
    gap = rows["gap_down"]
    assert gap.loss == pytest.approx(0.12) and not gap.passed and gap.risk_events == 2
    assert gap.drawdown_control_fired and not gap.kill_switch_fired
    spread = rows["wide_spread"]
    assert spread.loss == 0.0 and spread.passed and spread.kill_switch_fired
    assert rows["fee_shock"].passed and rows["fee_shock"].fingerprint == "fp-s-fee_shock"
    assert rows["historical:covid_2020"].passed and rows["historical:covid_2020"].skipped
    worst, untouched = checks
    assert worst.name == "stress_loss" and not worst.passed
    assert worst.value == pytest.approx(0.12) and worst.threshold == 0.1
    assert "gap_down" in worst.detail
    assert untouched.passed and untouched.value == 1.0
    # the same outcomes as a list, in the order of the cases that ran
    ran = [outcomes[c.spec.key] for c in cases if c.spec is not None]
    assert stress_section(cases, ran, Thresholds(max_stress_loss=0.1), "x", "x")[0] == section


def test_a_failed_trial_or_a_touched_catalog_fails() -> None:
    cases = prepare_stress(request(), ["fee_shock"], FakeScratch(), key_prefix="", seed=0)
    failed = TrialOutcome(key="fee_shock", error="engine refused", code="invalid_input")
    section, checks = stress_section(cases, [failed], Thresholds(), "a" * 64, "b" * 64)
    row = section.scenarios[0]
    assert not row.passed and "engine refused" in str(row.skipped) and row.loss is None
    worst, untouched = checks
    assert not worst.passed and not untouched.passed and untouched.value == 0.0
    fine = stress_section(cases, [outcome("fee_shock", 0.02)], Thresholds(), "a", "a")[1]
    assert all(c.passed for c in fine)
    off = stress_section(
        cases, [outcome("fee_shock", -0.9)], Thresholds(max_stress_loss=None), "a", "a"
    )
    assert [c.name for c in off[1]] == ["stress_catalog_untouched"] and off[0].scenarios[0].passed


def test_a_covered_historical_window_whose_trial_failed_fails() -> None:
    covid = next(w for w in HISTORICAL_WINDOWS if w.name == "covid_2020")
    base = request(start=covid.start_ns - DAY, days=60)
    cases = prepare_stress(base, ["historical"], FakeScratch(), key_prefix="", seed=0)
    failed = TrialOutcome(key="historical-covid_2020", error="no bars", code="not_found")
    section, checks = stress_section(cases, {failed.key: failed}, Thresholds(), "a", "a")
    rows = {r.scenario: r for r in section.scenarios}
    assert not rows["historical:covid_2020"].passed and rows["historical:gfc_2008"].passed
    assert not checks[0].passed and "historical:covid_2020" in checks[0].detail


def test_the_fake_is_a_scratch_port() -> None:
    port: ScratchCatalogs = FakeScratch()
    assert port.checksum()
