"""``quantdesk validation`` as a user types it (in process, CliRunner), over the real policies
and promotion gate with the stand-in pipeline of ``support/validation_desk`` (no engine):
runs and their exit codes, records, reports, policies from files, the gate on ``strategy
tag ... live`` and the override."""

import json
from pathlib import Path

import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.cli.app import EXIT_INVALID, create_cli
from quantdesk.cli.validation import EXIT_GATE_FAILED
from quantdesk.services.platform import Platform
from support.console import Cli
from support.registry import EXAMPLES
from support.validation_desk import STRICT_POLICY, fake_research

REF = "trend-syn01"


def _desk(home: Path | None) -> Platform:
    platform = bootstrap(home=home)
    # the gate guards the registry's tags once the research parts are built (bootstrap will
    # install it with the registry: the lead's wiring); until then the desk builds them first
    platform.research  # noqa: B018
    return platform


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.delenv("QUANTDESK_DATABASE_URL", raising=False)
    fake_research(monkeypatch)
    cli = Cli(tmp_path / "home")
    cli.app = create_cli(_desk)
    source = (EXAMPLES / "trend_following.yaml").read_text()
    faster = tmp_path / "faster.yaml"
    faster.write_text(source.replace("fast_period: 10", "fast_period: 12"))
    cli.ok("strategy", "add", EXAMPLES / "trend_following.yaml")
    cli.ok("strategy", "update", faster)
    return cli


def test_policies_show_set_from_a_file_and_history(cli: Cli, tmp_path: Path) -> None:
    shown = cli.ok("validation", "policy", "show")
    assert "# default@1" in shown and "name: default" in shown and "min_oos_sharpe: 0.5" in shown
    strict = tmp_path / "strict.yaml"
    strict.write_text(STRICT_POLICY)
    assert "strict@1: stored" in cli.ok("validation", "policy", "set", strict)
    assert "strict@1: unchanged" in cli.ok("validation", "policy", "set", strict)
    assert "min_oos_sharpe: 1.5" in cli.ok("validation", "policy", "show", "strict")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: strict\nthresholds:\n  max_pbo: 2\n")
    refused = cli.refused("validation", "policy", "set", bad)
    assert "line 3" in refused and "thresholds.max_pbo" in refused
    history = json.loads(cli.stdout("validation", "policy", "history", "strict", "--json"))
    assert [entry["version"] for entry in history] == [1]
    assert "no validation policy 'nope'" in cli.refused("validation", "policy", "show", "nope")


def test_a_run_that_passes_and_one_that_fails_the_gate(cli: Cli, tmp_path: Path) -> None:
    passed = cli.ok("validation", "run", f"{REF}@1", "--workers", "2")
    assert f"{REF}@1: PASSED" in passed and "policy default@1" in passed and "report:" in passed
    strict = tmp_path / "strict.yaml"
    strict.write_text(STRICT_POLICY)
    cli.ok("validation", "policy", "set", strict)
    failed = cli("validation", "run", f"{REF}@2", "--policy", "strict")
    assert failed.exit_code == EXIT_GATE_FAILED, failed.output
    assert f"{REF}@2: FAILED" in failed.output
    assert "failed: oos_sharpe [walk_forward]: 1 >= 0.5" in failed.output
    as_json = cli("validation", "run", f"{REF}@2", "--policy", "strict", "--json")
    assert as_json.exit_code == EXIT_GATE_FAILED
    record = json.loads(as_json.output)
    assert (record["ref"], record["passed"], record["failed_checks"]) == (
        f"{REF}@2",
        False,
        ["oos_sharpe"],
    )
    listed = json.loads(cli.stdout("validation", "list", REF, "--json"))
    assert [r["version"] for r in listed] == [2, 2, 1]
    assert len(json.loads(cli.stdout("validation", "list", f"{REF}@1", "--json"))) == 1
    shown = cli.ok("validation", "show", record["validation_id"])
    assert "FAIL" in shown and "oos_sharpe" in shown
    report = json.loads(cli.stdout("validation", "show", record["validation_id"], "--json"))
    assert report["validation_id"] == record["validation_id"] and report["passed"] is False
    html = Path(cli.ok("validation", "report", record["validation_id"]).strip())
    assert html.is_file() and record["validation_id"] in html.read_text()
    refused = cli.refused("validation", "run", f"{REF}@1", "--start", "yesterday")
    assert "--start" in refused


def test_strategy_tag_live_needs_the_gate_and_validated_is_not_by_hand(cli: Cli) -> None:
    refused = cli.refused("strategy", "tag", f"{REF}@1", "live")
    assert f"{REF}@1 may not trade: no validation" in refused
    cli.ok("validation", "run", f"{REF}@1")
    assert f"{REF}@1: tagged live" in cli.ok("strategy", "tag", f"{REF}@1", "live")
    assert "tags: live, validated" in cli.ok("strategy", "show", f"{REF}@1")
    refused = cli.refused("strategy", "tag", f"{REF}@2", "validated")
    assert "set by a passing validation only" in refused
    status = cli.ok("validation", "status", f"{REF}@2")
    assert "not tradable (no validation)" in status


def test_an_override_needs_a_reason_and_is_audited(cli: Cli) -> None:
    missing = cli("validation", "override", f"{REF}@2")
    assert missing.exit_code == EXIT_INVALID  # typer: --reason is required
    assert "override needs a reason" in cli.refused(
        "validation", "override", f"{REF}@2", "--reason", "  "
    )
    done = cli.ok("validation", "override", f"{REF}@2", "--reason", "demo", "--actor", "root")
    assert "override recorded by root" in done
    assert "tradable (override)" in cli.ok("validation", "status", f"{REF}@2")
    assert f"{REF}@2: tagged live" in cli.ok("strategy", "tag", f"{REF}@2", "live")
    assert "promotion_overridden" in cli.ok("audit", "list")
    assert cli.refused("validation", "override", REF, "--reason", "x").count("names no version")
