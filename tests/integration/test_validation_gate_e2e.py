"""The promotion gate end to end, as a user types it: ``quantdesk validation run`` on the real
pipeline and engine, then ``strategy tag ... live``.

A version whose validation failed cannot be tagged ``live`` (the gate refuses it with the
failed checks), the same version once it passes can, and a new version of the strategy
starts unvalidated whatever its predecessor earned. The policies here switch the costly
steps off (``skip_steps``: a recorded decision, not a silent pass) so each run is a handful
of trials; the full pipeline's verdicts are ``test_validation_pipeline``'s.
"""

import json
from pathlib import Path

import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.cli.app import create_cli
from quantdesk.cli.validation import EXIT_GATE_FAILED
from quantdesk.domain.errors import PromotionRefusedError
from quantdesk.services.platform import Platform
from support.console import Cli
from support.validation_markets import BAR_SPEC, INSTRUMENT, ingest_returns, trending_returns

STRATEGY = f"""strategy_id: trend
family: trend_following
name: EMA 10/50 on hourly bars
instruments: [{INSTRUMENT}]
bar_spec: {BAR_SPEC}
parameters:
  fast_period: 10
  slow_period: 50
  trade_size: "10"
risk:
  max_position: "10"
"""
GATE_POLICY = """name: gate
seed: 3
periods: {periods: 3}
monte_carlo: {samples: 200}
baselines: {random_seeds: 30, bootstrap_samples: 300}
skip_steps: [walk_forward, overfitting, stress]
"""
STRICT_POLICY = GATE_POLICY.replace("name: gate", "name: strict") + (
    "thresholds: {min_trades: 100000}\n"
)


def _desk(home: Path | None) -> Platform:
    platform = bootstrap(home=home)
    platform.research  # noqa: B018  (the gate guards the registry's tags once built)
    return platform


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.delenv("QUANTDESK_DATABASE_URL", raising=False)
    home = tmp_path / "home"
    ingest_returns(
        bootstrap(home=home),
        trending_returns(24 * 60, seed=4, drift=0.0008, noise=0.002, regime=150),
        "gate",
    )
    cli = Cli(home)
    cli.app = create_cli(_desk)
    for name, text in (("trend.yaml", STRATEGY), ("gate.yaml", GATE_POLICY)):
        (tmp_path / name).write_text(text)
    (tmp_path / "strict.yaml").write_text(STRICT_POLICY)
    cli.ok("strategy", "add", tmp_path / "trend.yaml")
    cli.ok("validation", "policy", "set", tmp_path / "gate.yaml")
    cli.ok("validation", "policy", "set", tmp_path / "strict.yaml")
    return cli


def test_failing_versions_cannot_go_live_passing_ones_can(cli: Cli, tmp_path: Path) -> None:
    failed = cli("validation", "run", "trend@1", "--policy", "strict", "--json")
    assert failed.exit_code == EXIT_GATE_FAILED, failed.output
    record = json.loads(failed.output)
    assert (record["passed"], record["failed_checks"]) == (False, ["min_trades"])
    refused = cli.refused("strategy", "tag", "trend@1", "live")
    assert "trend@1 may not trade" in refused and "min_trades" in refused

    passed = cli.ok("validation", "run", "trend@1", "--policy", "gate")
    assert "trend@1: PASSED" in passed and "policy gate@1" in passed
    assert "trend@1: tagged live" in cli.ok("strategy", "tag", "trend@1", "live")
    assert "tags: live, validated" in cli.ok("strategy", "show", "trend@1")
    shown = json.loads(cli.stdout("validation", "show", record["validation_id"], "--json"))
    skipped = {s["step"]: s["skipped"] for s in shown["steps"] if s["skipped"]}
    assert skipped == dict.fromkeys(
        ("walk_forward", "overfitting", "stress"), "switched off by the policy"
    )

    faster = tmp_path / "faster.yaml"
    faster.write_text(STRATEGY.replace("fast_period: 10", "fast_period: 12"))
    cli.ok("strategy", "update", faster)
    refused = cli.refused("strategy", "tag", "trend@2", "live")
    assert "trend@2 may not trade: no validation" in refused
    desk = _desk(cli.home)
    with pytest.raises(PromotionRefusedError):
        desk.research.promotion.require_tradable("trend", 2)
    assert desk.research.promotion.require_tradable("trend", 1).passed  # type: ignore[union-attr]


def test_a_range_too_short_for_the_steps_fails_with_the_reasons(cli: Cli, tmp_path: Path) -> None:
    every_step = tmp_path / "every.yaml"
    every_step.write_text(GATE_POLICY.replace("name: gate", "name: every").split("skip_steps")[0])
    cli.ok("validation", "policy", "set", every_step)
    short = cli(
        "validation", "run", "trend@1", "--policy", "every",
        "--start", "2024-01-10", "--end", "2024-01-12T23:59Z", "--json",
    )  # fmt: skip
    assert short.exit_code == EXIT_GATE_FAILED, short.output
    record = json.loads(short.output)
    assert {"periods_ran", "walk_forward_ran", "overfitting_ran"} <= set(record["failed_checks"])
    report = json.loads(cli.stdout("validation", "show", record["validation_id"], "--json"))
    skipped = {s["step"] for s in report["steps"] if s["skipped"]}
    assert skipped == {"walk_forward", "overfitting"}  # refused up front, before any trial
    assert not any(s["trials"] for s in report["steps"] if s["skipped"])
    assert len(report["warnings"]) == 2 and all(" skipped: " in w for w in report["warnings"])
    # the periods ran, but a day of bars cannot warm up a 50-bar average: no evidence there
    [ran] = [c for c in report["steps"][0]["checks"] if c["name"] == "periods_ran"]
    assert ran["value"] == 2 and "needs 50 bars" in ran["detail"]  # 2 whole days: 2 periods
    assert "trend@1 may not trade" in cli.refused("strategy", "tag", "trend@1", "live")
