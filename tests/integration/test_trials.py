"""The trial engine: unregistered candidates evaluated, nothing stored, failures as outcomes,
and an outcome's figures against an independent computation from the same run."""

import hashlib
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantdesk.bootstrap import _settings, bootstrap
from quantdesk.bootstrap_research import trial_evaluator
from quantdesk.domain.trials import TrialOutcome, TrialSpec
from quantdesk.services.platform import Platform
from quantdesk.services.synthetic import SyntheticMarketConfig
from quantdesk.services.trials import InlineTrialPool, TrialEvaluator, outcome_of
from support.family_markets import orders_digest
from support.trial_specs import candidate, pinned_request, trial

MARKET = SyntheticMarketConfig(instruments=1, days=2, seed=3)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("trials") / "home"
    bootstrap(home=home).synthetic.synthesize(MARKET)
    return home


@pytest.fixture(scope="module")
def evaluator(home: Path) -> TrialEvaluator:
    return trial_evaluator(_settings(home))


def same(a: TrialOutcome, b: TrialOutcome) -> bool:
    return a.model_dump(exclude={"wall_seconds"}) == b.model_dump(exclude={"wall_seconds"})


def test_candidates_of_one_version_are_told_apart(evaluator: TrialEvaluator) -> None:
    """Same id@version, other parameters: other fingerprint and fills; the same spec again:
    the same outcome (the second one replays the warm runner's tape)."""
    pool = InlineTrialPool(evaluator)
    seen: list[str] = []
    specs = [
        trial("a", candidate("trend_following", fast_period=10)),
        trial("b", candidate("trend_following", fast_period=5)),
        trial("a-again", candidate("trend_following", fast_period=10)),
    ]
    a, b, again = pool.run(specs, on_outcome=lambda o: seen.append(o.key))
    assert seen == ["a", "b", "a-again"] and pool.workers == 1
    assert a.ok and b.ok and a.metrics is not None
    assert a.fingerprint != b.fingerprint and a.fills_sha256 != b.fills_sha256
    assert same(a, again.model_copy(update={"key": "a"}))


def test_pinned_definition_wins_over_the_registered_version(tmp_path: Path, home: Path) -> None:
    """A trial names a registered version but runs the candidate it carries; evaluate stores
    no run, and a stored run of that candidate has the trial's fingerprint and fills."""
    desk = bootstrap(home=tmp_path / "desk")
    desk.synthetic.synthesize(MARKET)
    registered = candidate("trend_following", fast_period=10)
    desk.registry.register(registered.model_copy(update={"version": None}), "tester")
    tuned = candidate("trend_following", fast_period=6)
    request = pinned_request(tuned)
    result, artifacts = desk.backtests.evaluate(request, request.pinned)
    assert desk.backtests.results() == []
    assert result.strategies[0].content_hash == tuned.content_hash
    stored = desk.backtests.run(request, pending=request.pinned)
    assert stored.fingerprint == result.fingerprint
    assert list(desk.backtests.artifacts(stored.run_id).fills) == list(artifacts.fills)
    by_ref = desk.backtests.run(pinned_request(registered).model_copy(update={"pinned": []}))
    assert by_ref.fingerprint != result.fingerprint


def test_a_refused_trial_is_an_outcome(evaluator: TrialEvaluator) -> None:
    elsewhere = candidate("trend_following").model_copy(update={"instruments": ("SYN09.SIM",)})
    outcome = evaluator.evaluate(trial("nowhere", elsewhere))
    assert not outcome.ok and outcome.code == "not_found" and "SYN09.SIM" in str(outcome.error)
    no_data = evaluator.evaluate(
        trial("late", candidate("mean_reversion"), start_ns=1_800_000_000_000_000_000)
    )
    assert not no_data.ok and no_data.code is not None and no_data.metrics is None


def test_a_scratch_catalog_runs_on_its_own_service(home: Path, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    bootstrap(home=scratch).synthetic.synthesize(
        SyntheticMarketConfig(instruments=1, days=2, seed=11)
    )
    evaluator = trial_evaluator(_settings(home))
    spec = trial("tf", candidate("trend_following"))
    real = evaluator.evaluate(spec)
    moved = evaluator.evaluate(
        TrialSpec(key="tf", request=spec.request, catalog=str(scratch / "catalog"))
    )
    assert real.ok and moved.ok and real.fills_sha256 != moved.fills_sha256
    assert evaluator.service(str(scratch / "catalog")) is evaluator.service(
        str(scratch / "catalog")
    )
    alone = TrialEvaluator(evaluator.service(None))
    refused = alone.evaluate(TrialSpec(key="x", request=spec.request, catalog="/nowhere"))
    assert refused.code == "scratch_unavailable"


def test_outcome_against_an_independent_computation(tmp_path: Path, home: Path) -> None:
    """Every figure recomputed with pandas from the run's own result and artifacts."""
    desk: Platform = bootstrap(home=home)
    definition = candidate(
        "trend_following", fast_period=5, slow_period=20, risk={"max_position": "50"}
    )
    request = pinned_request(
        definition, risk={"limits": {"max_drawdown_pct": "0.00005"}, "on_breach": "HALTED"}
    )
    result, artifacts = desk.backtests.evaluate(request, request.pinned)
    outcome = outcome_of("k", result, artifacts)

    stamps = pd.DatetimeIndex(pd.to_datetime(artifacts.curve.ts_ns, utc=True))
    curve = pd.Series(artifacts.curve.equity, index=stamps)
    days = curve.groupby(stamps.date)
    last_ts = [int(g.index[-1].value) for _, g in days]
    assert outcome.daily_ts == last_ts
    assert outcome.daily_equity == [float(g.iloc[-1]) for _, g in days]

    positions = pd.DataFrame([asdict(p) for p in artifacts.positions]).sort_values(
        "closed_ns", kind="stable"
    )
    assert outcome.trade_pnls == positions["realized_pnl"].tolist()
    assert outcome.holding_ns == (positions["closed_ns"] - positions["opened_ns"]).tolist()

    fills = pd.DataFrame([asdict(f) for f in artifacts.fills])
    net = (fills["side"] * fills["quantity"]).cumsum()
    assert outcome.positions_max == {"SYN01.SIM": float(np.abs(net).max())}
    assert outcome.positions_max["SYN01.SIM"] <= 50

    kinds = Counter(e.kind.value for e in result.risk_events)
    assert kinds["halt"] >= 1 and kinds["deny"] >= 1 and kinds["reduce"] >= 1
    assert outcome.halted
    assert outcome.orders_denied == kinds["deny"]
    assert outcome.risk_counts == dict(Counter(e.rule for e in result.risk_events))
    assert outcome.orders == fills["order_id"].nunique()
    assert outcome.fills_sha256 == orders_digest(artifacts.fills)
    assert outcome.fills_sha256 != hashlib.sha256(b"").hexdigest()
    assert outcome.start_equity == 1_000_000.0
    assert outcome.fingerprint == result.fingerprint and outcome.metrics == result.metrics


def test_a_worker_reads_what_was_written_since_its_last_trial(tmp_path: Path) -> None:
    """The warm catalog and runner keep reads per file identity: bars added between two
    trials are in the second one, as a fresh evaluator sees them."""
    home = tmp_path / "home"
    desk = bootstrap(home=home)
    desk.synthetic.synthesize(SyntheticMarketConfig(instruments=1, days=1, seed=3))
    evaluator = trial_evaluator(_settings(home))
    spec = trial("tf", candidate("trend_following", fast_period=5, slow_period=20))
    before = evaluator.evaluate(spec)
    desk.synthetic.synthesize(SyntheticMarketConfig(instruments=1, days=2, seed=3))
    after = evaluator.evaluate(spec)
    fresh = trial_evaluator(_settings(home)).evaluate(spec)
    assert before.ok and len(after.daily_ts) > len(before.daily_ts)
    assert same(after, fresh) and after.fingerprint != before.fingerprint
