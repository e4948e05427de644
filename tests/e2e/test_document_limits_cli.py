"""Issue 12 (items 3, 4): hostile YAML/JSON files through the CLI are refused with a clear,
line-precise error and exit 2, and nothing is stored (in process, CliRunner)."""

import json
import re
from pathlib import Path

import pytest

from support.console import Cli
from support.registry import EXAMPLES

TREND = (EXAMPLES / "trend_following.yaml").read_text()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.delenv("QUANTDESK_DATABASE_URL", raising=False)
    return Cli(tmp_path / "home", columns=300)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def line_of(path: Path, fragment: str, occurrence: int = 1) -> int:
    lines = [n for n, text in enumerate(path.read_text().splitlines(), 1) if fragment in text]
    return lines[occurrence - 1]


def assert_nothing_registered(cli: Cli) -> None:
    result = cli("strategy", "list", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == []


def test_billion_laughs_in_a_custom_config_is_refused_at_once(cli: Cli, tmp_path: Path) -> None:
    """The issue's repro took 97 s and 4.4 GB before a MemoryError."""
    bomb = ['    a0: &a0 "lol"']
    for level in range(1, 10):
        bomb.append(f"    a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    path = write(
        tmp_path,
        "laughs.yaml",
        "strategy_id: laughs\nfamily: custom\nname: lol\ninstruments: [SYN01.SIM]\n"
        "parameters:\n  strategy_path: quantdesk.strategies.ema_cross:EmaCross\n"
        "  config_path: quantdesk.strategies.ema_cross:EmaCrossConfig\n  config:\n"
        + "\n".join(bomb)
        + "\n",
    )
    output = cli.refused("strategy", "add", path)
    assert f"line {line_of(path, 'a6: &a6')}: more than 100,000 values" in output
    assert_nothing_registered(cli)


def test_a_request_nested_100000_deep_is_refused(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "deep.json", '{"strategies": ' + "[" * 100_000 + "]" * 100_000 + "}")
    output = cli.refused("backtest", "run", "--request", path)
    assert "deep.json line 1: nested more than 32 levels deep" in output


def test_a_5000_digit_integer_is_refused_with_its_line(cli: Cli, tmp_path: Path) -> None:
    path = write(
        tmp_path, "big.yaml", TREND.replace("fast_period: 10", "fast_period: " + "7" * 5000)
    )
    output = cli.refused("strategy", "add", path)
    assert f"line {line_of(path, 'fast_period')}: the number 7777" in output
    assert "has more than 100 digits" in output
    request = write(tmp_path, "request.json", '{"end_ns": ' + "9" * 5000 + "}")
    assert "request.json line 1: the number 9999" in cli.refused(
        "backtest", "run", "--request", request
    )


def test_trade_size_1e999999_is_not_stored(cli: Cli, tmp_path: Path) -> None:
    """PyYAML reads it as a string; it used to be stored as a million digits."""
    huge = re.sub(r"trade_size: .*", "trade_size: 1e999999", TREND, count=1)
    assert huge != TREND  # the example names a trade size to replace
    path = write(tmp_path, "huge.yaml", huge)
    output = cli.refused("strategy", "add", path)
    assert f"line {line_of(path, 'trade_size')}: the number 1e999999 has more than 100 digits" in (
        output
    )
    assert_nothing_registered(cli)


def test_a_duplicate_key_in_a_strategy_file_names_both_lines(cli: Cli, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "twice.yaml",
        TREND.replace("  slow_period: 50", "  slow_period: 50\n  fast_period: 40"),
    )
    first, second = line_of(path, "fast_period", 1), line_of(path, "fast_period", 2)
    output = cli.refused("strategy", "add", path)
    assert f"line {second}: key 'fast_period' repeats the key on line {first}" in output
    assert_nothing_registered(cli)


def test_a_duplicate_key_in_an_instrument_file_names_both_lines(cli: Cli, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "acme.yaml",
        "instrument_id: ACME.XNAS\n"  # 1
        "asset_class: equity\n"  # 2
        "currency: USD\n"  # 3
        "tick_size: 0.01\n"  # 4
        "size_increment: 1\n"  # 5
        "tick_size: 0.5\n",  # 6
    )
    output = cli.refused("instruments", "add", path)
    assert "acme.yaml line 6: key 'tick_size' repeats the key on line 4" in output
    listed = cli("instruments", "list")
    assert "ACME.XNAS" not in listed.output


def test_a_file_larger_than_the_limit_is_refused(cli: Cli, tmp_path: Path) -> None:
    """A valid definition padded with comments past 1,000,000 bytes."""
    path = write(tmp_path, "padded.yaml", TREND + ("# " + "x" * 98 + "\n") * 10_001)
    output = cli.refused("strategy", "add", path)
    assert "padded.yaml: larger than 1,000,000 bytes" in output
    assert_nothing_registered(cli)


def test_json_numbers_are_read_as_json_reads_them(cli: Cli, tmp_path: Path) -> None:
    """YAML 1.1 read the JSON number 1e1 as the string '1e1'."""
    text = (
        '{"strategy_id": "trend-json", "family": "trend_following", "name": "j",\n'
        ' "instruments": ["BTCUSDT-PERP.BINANCE"], "bar_spec": "1-MINUTE-LAST",\n'
        ' "parameters": {"fast_period": 1e1, "slow_period": 5e1, "trade_size": "0.01"}}\n'
    )
    path = write(tmp_path, "trend.json", text)
    result = cli("strategy", "add", path)
    assert result.exit_code == 0, result.output
    assert "fast_period: 10" in cli("strategy", "show", "trend-json@1").output
