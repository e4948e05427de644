"""``quantdesk strategy``, ``audit`` and ``db`` as a user types them (in process, CliRunner)."""

import json
import os
import sqlite3
from pathlib import Path

import pytest

from quantdesk.cli.app import EXIT_INVALID
from quantdesk.cli.strategies import EXIT_AUDIT_BROKEN
from support.console import Cli
from support.migrations import HEAD, REVISIONS
from support.plugin_desk import allow_test_plugins
from support.registry import EXAMPLES


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.delenv("QUANTDESK_DATABASE_URL", raising=False)
    return Cli(tmp_path / "home")


def changed(tmp_path: Path, source: str, old: str, new: str) -> Path:
    text = (EXAMPLES / source).read_text()
    assert old in text
    path = tmp_path / f"changed-{source}"
    path.write_text(text.replace(old, new))
    return path


def test_add_all_examples_list_show_and_verify(cli: Cli) -> None:
    examples = sorted(EXAMPLES.glob("*.yaml"))
    for path in examples:
        assert ": registered" in cli.ok("strategy", "add", path, "--author", "alice")
    assert "unchanged" in cli.ok("strategy", "add", EXAMPLES / "trend_following.yaml")
    listed = json.loads(cli.stdout("strategy", "list", "--json"))
    assert len(listed) == len(examples) and all(item["ref"].endswith("@1") for item in listed)
    only = cli.ok("strategy", "list", "--family", "execution")
    assert "twap-syn02" in only and "trend-syn01" not in only
    shown = cli.ok("strategy", "show", "trend-syn01@1")
    assert "fast_period: 10" in shown and "by alice" in shown
    assert f"{len(examples)} events" in cli.ok("audit", "verify")
    assert (cli.home / "quantdesk.db").is_file()


def test_update_history_diff_tag_deprecate(cli: Cli, tmp_path: Path) -> None:
    cli.ok("strategy", "add", EXAMPLES / "trend_following.yaml")
    faster = changed(tmp_path, "trend_following.yaml", "fast_period: 10", "fast_period: 12")
    assert "trend-syn01@2: registered" in cli.ok("strategy", "update", faster, "--reason", "faster")
    history = cli.ok("strategy", "history", "trend-syn01")
    assert "faster" in history and "│ 2 " in history
    diff = cli.ok("strategy", "diff", "trend-syn01", "1", "2")
    assert "parameters.fast_period" in diff and "10" in diff and "12" in diff
    cli.ok("strategy", "tag", "trend-syn01@2", "paper")
    assert "fast_period: 12" in cli.ok("strategy", "show", "trend-syn01@paper")
    assert "trend-syn01" in cli.ok("strategy", "list", "--tag", "paper")
    cli.ok("strategy", "deprecate", "trend-syn01@1", "--reason", "too slow")
    assert "DEPRECATED: too slow" in cli.ok("strategy", "show", "trend-syn01@1")
    assert "4 events" in cli.ok("audit", "verify")  # 2 versions, a tag, a deprecation
    assert "strategy_tagged" in cli.ok("audit", "list")


def test_invalid_file_names_the_line_field_and_allowed_values(cli: Cli, tmp_path: Path) -> None:
    bad = changed(tmp_path, "trend_following.yaml", "fast_period: 10", "fast_period: 900")
    result = cli("strategy", "add", bad)
    assert result.exit_code == EXIT_INVALID
    line = next(n for n, text in enumerate(bad.read_text().splitlines(), 1) if "900" in text)
    assert f"line {line}: parameters.fast_period" in result.output
    assert "2 <= value <= 500" in result.output

    unknown = changed(tmp_path, "mean_reversion.yaml", "lookback: 60", "lookbak: 60")
    result = cli("strategy", "add", unknown)
    assert result.exit_code == EXIT_INVALID
    assert "parameters.lookbak: unknown field; allowed: lookback" in result.output

    family = changed(tmp_path, "execution.yaml", "family: execution", "family: twap")
    result = cli("strategy", "add", family)
    assert result.exit_code == EXIT_INVALID
    assert "line 2: family: 'twap' is not a strategy family" in result.output


def test_json_definitions_and_custom_config_schema(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    allow_test_plugins(monkeypatch)
    definition = {
        "strategy_id": "mine",
        "family": "custom",
        "name": "my own",
        "instruments": ["SYN01.SIM"],
        "parameters": {
            "strategy_path": "qd_test_plugins.buyer:Buyer",
            "config_path": "qd_test_plugins.buyer:BuyerConfig",
            "config": {"window": "ten"},
            "config_schema": {
                "type": "object",
                "properties": {"window": {"type": "integer", "minimum": 1}},
                "required": ["window"],
            },
        },
    }
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(definition, indent=2))
    result = cli("strategy", "add", path)
    assert result.exit_code == EXIT_INVALID
    assert "parameters.config.window: 'ten' is not of type 'integer'" in result.output
    definition["parameters"]["config"] = {"window": 10}  # type: ignore[index]
    path.write_text(json.dumps(definition))
    assert "mine@1: registered" in cli.ok("strategy", "add", path)


def test_schema_prints_bounds(cli: Cli) -> None:
    table = cli.ok("strategy", "schema", "mean_reversion")
    assert "lookback" in table and "5 <= value <= 1000" in table
    schema = json.loads(cli.stdout("strategy", "schema", "execution", "--json"))
    assert schema["properties"]["horizon_minutes"]["maximum"] == 7200
    assert cli("strategy", "schema", "astrology").exit_code != 0


def test_unknown_strategy_and_missing_file(cli: Cli, tmp_path: Path) -> None:
    result = cli("strategy", "show", "nothing")
    assert result.exit_code == EXIT_INVALID and "not registered" in result.output
    result = cli("strategy", "add", tmp_path / "absent.yaml")
    assert result.exit_code == EXIT_INVALID and "cannot be read" in result.output
    result = cli("strategy", "deprecate", "nothing")
    assert result.exit_code == EXIT_INVALID and "ID@VERSION" in result.output


def test_audit_verify_reports_the_first_broken_link(cli: Cli) -> None:
    cli.ok("strategy", "add", EXAMPLES / "trend_following.yaml")
    cli.ok("strategy", "tag", "trend-syn01@1", "paper")
    with sqlite3.connect(cli.home / "quantdesk.db") as connection:
        connection.execute("UPDATE audit_events SET subject = 'trend-syn01@9' WHERE seq = 1")
    result = cli("audit", "verify")
    assert result.exit_code == EXIT_AUDIT_BROKEN
    assert "audit event 1" in result.output


def test_db_upgrade(cli: Cli) -> None:
    applied = " ".join(cli.ok("db", "upgrade").split())  # a long path wraps the line
    assert f"applied {', '.join(REVISIONS)}" in applied
    assert f"already up to date (revision {HEAD})" in " ".join(cli.ok("db", "upgrade").split())


def test_database_url_switches_the_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere.db"
    monkeypatch.setenv("QUANTDESK_DATABASE_URL", f"sqlite:///{elsewhere}")
    cli = Cli(tmp_path / "home")
    cli.ok("strategy", "add", EXAMPLES / "execution.yaml")
    assert elsewhere.is_file() and not (tmp_path / "home" / "quantdesk.db").exists()
    assert os.environ["QUANTDESK_DATABASE_URL"].endswith("elsewhere.db")
