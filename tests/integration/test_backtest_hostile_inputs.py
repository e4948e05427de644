"""Hostile ``backtest run`` inputs (issue 12, item 8), in process on the real engine: each is
exit 2 with a message naming the flag or the field and the value, never a traceback or a
Rust panic, and no run is stored. Flags and request files meet the same rules."""

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from quantdesk.bootstrap import bootstrap
from quantdesk.cli.app import EXIT_INVALID, create_cli
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.problems import parse_definition
from quantdesk.services.synthetic import SyntheticMarketConfig

BASE = ["backtest", "run", "--strategy", "ema_cross", "--instrument", "SYN01.SIM"]
EMA = {
    "strategy_path": "quantdesk.strategies.ema_cross:EmaCross",
    "config_path": "quantdesk.strategies.ema_cross:EmaCrossConfig",
    "config": {
        "instrument_id": "SYN01.SIM",
        "bar_type": "SYN01.SIM-1-MINUTE-LAST-EXTERNAL",
        "order_id_tag": "A",
        "fast": 5,
        "slow": 20,
    },
}
"""An old-style strategy entry: a request may no longer hold one."""
REGISTERED = "ema-a"
REQUEST: dict[str, Any] = {"strategies": [REGISTERED]}
BAD_CONFIGS: list[dict[str, Any]] = [
    {"trade_size": 0},
    {"trade_size": "0.5"},
    {"trade_size": 1e20},
    {"trade_size": "1e50"},
    {"fast": "x"},
    {"long_only": 3},
    {"bogus": 1},
]
"""Configs the registry stores for a custom definition and the runner refuses, by name."""
BAD_EXPECTED: list[list[str]] = [
    ["trade_size 0:", "not greater than 0"],
    ["trade_size '0.5':", "SYN01.SIM's size increment 1"],
    ["trade_size 1e+20:", "above the maximum"],
    ["trade_size '1e50':", "above the maximum"],
    ["fast 'x':", "Expected `int`"],
    ["long_only 3:", "Expected `bool`"],
    ["bogus 1:", "unknown parameter"],
]


def custom(strategy_id: str, **config: Any) -> StrategyDefinition:
    """The EMA cross as a ``custom`` definition, its config as given (the registry stores a
    custom config as its schema allows: the runner's checks are what refuse it)."""
    return parse_definition(
        {
            "strategy_id": strategy_id,
            "family": "custom",
            "name": strategy_id,
            "instruments": ["SYN01.SIM"],
            "parameters": {
                "strategy_path": EMA["strategy_path"],
                "config_path": EMA["config_path"],
                "config": {
                    "instrument_id": "SYN01.SIM",
                    "bar_type": "SYN01.SIM-1-MINUTE-LAST-EXTERNAL",
                    "fast": 5,
                    "slow": 20,
                    **config,
                },
            },
        }
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("hostile") / "home"
    desk = bootstrap(home=home)
    desk.synthetic.synthesize(SyntheticMarketConfig(instruments=1, days=1, seed=3))
    desk.registry.register(custom(REGISTERED), "tester")
    for index, config in enumerate(BAD_CONFIGS):
        desk.registry.register(custom(f"bad-{index}", **config), "tester")
    return home


def invoke(home: Path, args: list[str]) -> str:
    """The output of a refused command; asserts what every refusal must be."""
    runs = home / "runs"
    before = sorted(runs.iterdir()) if runs.exists() else []
    app = create_cli(lambda h: bootstrap(home=h))
    result = CliRunner().invoke(app, ["--home", str(home), *args], env={"COLUMNS": "250"})
    output = " ".join(result.output.split())
    assert result.exit_code == EXIT_INVALID, output
    assert isinstance(result.exception, SystemExit), result.exception  # rendered, not raised
    assert "Traceback" not in output and "panicked" not in output
    assert "unexpected failure" not in output
    assert (sorted(runs.iterdir()) if runs.exists() else []) == before  # no run stored
    return output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--balance", "-5"], ["--balance: -5 is not greater than 0"]),
        (["--balance", "abc"], ["--balance abc: Input should be a valid decimal"]),
        (["--balance", "1e999999"], ["--balance 1e999999:", "above the maximum"]),
        (["--balance", "0.0000000001"], ["--balance", "more than 9 decimal places"]),
        (["--leverage", "0"], ["--leverage: 0 is not greater than 0"]),
        (["--leverage", "1e999999"], ["--leverage 1e999999:", "above the maximum"]),
        (["--maker-fee", "abc"], ["--maker-fee abc:"]),
        (["--taker-fee", "1"], ["--taker-fee: 1 is above the maximum 0.1"]),
        (["--bar-spread", "-1"], ["--bar-spread: -1 is below the minimum 0"]),
        (["--currency", "usd"], ["--currency:", "'usd'"]),
        (["--max-position", "abc"], ["--max-position abc:"]),
        (["--max-order-quantity", "0"], ["--max-order-quantity: 0 is not greater than 0"]),
        (["--max-order-notional", "1e999999"], ["--max-order-notional 1e999999:"]),
        (["--max-gross-exposure", "-1"], ["--max-gross-exposure: -1"]),
        (["--max-leverage", "nan"], ["--max-leverage nan:", "finite number"]),
        (["--max-drawdown-pct", "5"], ["--max-drawdown-pct: 5 is above the maximum 1"]),
        (["--max-daily-loss", "x"], ["--max-daily-loss x:"]),
        (["--seed", "-1"], ["--seed -1:", "greater than or equal to 0"]),
        (["--seed", str(2**63)], [f"--seed {2**63}:", "less than or equal to"]),
        (["--seed", "9" * 30], ["--seed", "less than or equal to"]),
        (["--param", "fast=abc"], ["--param fast:", "valid integer", "got 'abc'"]),
        (["--param", "trade_size=1e20"], ["--param trade_size: 1E+20 is above the maximum"]),
        (["--param", "trade_size=0"], ["--param trade_size: 0 is not greater than 0"]),
        (["--param", "trade_size=0.5"], ["--param trade_size=0.5:", "size increment 1"]),
        (["--param", "trade_size=abc"], ["--param trade_size:", "decimal"]),
        (["--param", "bogus=1"], ["--param bogus: unknown field", "allowed: fast, slow,"]),
        (
            ["--param", "trade_size=1e999999"],
            ["--param trade_size: the number 1e999999 is not a finite number"],
        ),
        (["--param", "fast=NaN"], ["--param fast:", "valid integer", "got 'NaN'"]),
        (["--param", f"slow={10**23}"], ["--param slow: Input should be less than or equal"]),
        (
            ["--param", "signal_types=[1e999]"],
            ["--param signal_types: the number 1e999 is not a finite number"],
        ),
        (["--param", "x=" + "9" * 5000], ["--param x: a number of 5000 characters"]),
        (["--param", "x=" + "[" * 100_000], ["--param x: the document nests deeper than 32"]),
        (["--param", "trade_until_ns=-5"], ["--param trade_until_ns: -5", "outside the range"]),
        (["--param", "fast=30", "--param", "slow=20"], ["--param: fast (30) must be below slow"]),
        (["--param", 'signal_types=["X"]'], ["--param signal_types: Input should be 'REGIME"]),
        (["--bar-spec", "bogus"], ["--bar-spec:", "'bogus'"]),
        (["--instrument", "-Infinity"], ["--instrument:", "'-Infinity'"]),
        (["--start", "2024-01-02", "--end", "2024-01-01"], ["--start:", "is after end"]),
    ],
)
def test_a_bad_flag_is_named_with_its_value(
    home: Path, args: list[str], expected: list[str]
) -> None:
    output = invoke(home, [*BASE, *args])
    for text in expected:
        assert text in output


def test_every_bad_flag_is_named_at_once(home: Path) -> None:
    output = invoke(home, [*BASE, "--balance", "-5", "--leverage", "0", "--seed", "-1"])
    assert "3 problems" in output
    assert "--balance: -5" in output and "--leverage: 0" in output and "--seed -1" in output


def _top(**changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda request: request.update(changes)


def _strategies(*refs: Any) -> Callable[[dict[str, Any]], None]:
    return lambda request: request.update(strategies=list(refs))


def _unknown(*path: str | int) -> Callable[[dict[str, Any]], None]:
    def change(request: dict[str, Any]) -> None:
        request.setdefault("venues", [{"name": "SIM"}])
        request.setdefault("risk", {"limits": {}})
        request.setdefault("engine", {})
        request["venues"][0].setdefault("fill_model", {})
        target: Any = request
        for part in path:
            target = target[part]
        target["bogus"] = 1

    return change


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        *[
            (_strategies(f"bad-{index}"), ["strategy 1 (bad-" + f"{index}@1)", *expected])
            for index, expected in enumerate(BAD_EXPECTED)
        ],
        (_strategies(EMA), ["strategies.0: strategy 1 is not a registry reference"]),
        (_strategies(REGISTERED, EMA), ["strategies.1:", "registry references now"]),
        (_top(instruments=["SYN01.SIM"]), ["instruments:", "no longer names instruments"]),
        (_top(bar_spec="1-MINUTE-LAST"), ["bar_spec:", "no longer names bar_spec"]),
        (_strategies(REGISTERED, REGISTERED), ["strategies.1: strategy 'ema-a' is listed twice"]),
        (_strategies(REGISTERED, "ema-a@1"), ["strategies 1 (ema-a) and 2 (ema-a@1)", "both"]),
        (_strategies("nothing"), ["strategy nothing is not registered"]),
        (_strategies("Bad Ref"), ["strategies.0: 'Bad Ref' is not a strategy reference", "ID@TAG"]),
        (
            _top(risk={"constraints": {"EmaCross-A": {}}}),
            ["risk.constraints.EmaCross-A", "not a strategy of this run"],
        ),
        (_top(end_ns=2**63), ["end_ns: 9223372036854775808", "outside the range"]),
        (_top(start_ns=-5), ["start_ns: -5", "outside the range"]),
        (_top(end_ns=-5), ["end_ns: -5", "outside the range"]),
        (
            _top(start_ns=1_704_070_000 * 10**9, end_ns=1_704_060_000 * 10**9),
            ["start_ns: start 2024-01-01 00:46:40 UTC is after end"],
        ),
        (_top(seed=2**70), [f"seed {2**70}:", "less than or equal to"]),
        (_top(engine={"purge_interval_minutes": 2**62}), ["engine.purge_interval_minutes"]),
        (_top(venues=[{"name": "SIM", "starting_balance": "1e50"}]), ["1E+50 is above"]),
        (
            _top(venues=[{"name": "SIM", "default_leverage": 0}]),
            ["venues.0.default_leverage: 0 is not greater than 0"],
        ),
        (_top(venues=[{"name": "SIM"}, {"name": "SIM"}]), ["venues.1.name", "twice"]),
        (_unknown(), ["line", "bogus 1: Extra inputs are not permitted"]),
        (_unknown("venues", 0), ["venues.0.bogus 1:"]),
        (_unknown("venues", 0, "fill_model"), ["venues.0.fill_model.bogus 1:"]),
        (_unknown("risk"), ["risk.bogus 1:"]),
        (_unknown("risk", "limits"), ["risk.limits.bogus 1:"]),
        (_unknown("engine"), ["engine.bogus 1:"]),
    ],
)
def test_a_bad_request_file_is_named_with_its_field_and_value(
    home: Path, tmp_path: Path, change: Callable[[dict[str, Any]], None], expected: list[str]
) -> None:
    request = copy.deepcopy(REQUEST)
    change(request)
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request, indent=2))
    output = invoke(home, ["backtest", "run", "--request", str(path)])
    for text in expected:
        assert text in output


def test_a_huge_balance_in_yaml_is_refused_naming_its_line(home: Path, tmp_path: Path) -> None:
    """YAML reads ``1e50`` (no dot) as text, which a Decimal takes whole (the document reader
    refuses numbers of over 100 digits, ``1e999999`` among them, before the model sees them)."""
    path = tmp_path / "request.yaml"
    path.write_text(
        f"strategies: [{REGISTERED}]\nvenues:\n  - name: SIM\n    starting_balance: 1e50\n"
    )
    output = invoke(home, ["backtest", "run", "--request", str(path)])
    assert "request.yaml line 4: venues.0.starting_balance" in output
    assert "1E+50 is above the maximum 9223372036" in output


def test_several_bad_fields_of_a_file_are_shown_at_once(home: Path, tmp_path: Path) -> None:
    request = {**REQUEST, "seed": -1, "end_ns": 2**63, "label": "a\nb"}
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request, indent=2))
    output = invoke(home, ["backtest", "run", "--request", str(path)])
    assert "3 problems" in output
    assert "seed -1" in output and "end_ns" in output and "label" in output


def test_a_parameter_the_runner_refuses_names_its_line(home: Path, tmp_path: Path) -> None:
    request = {"label": "x", "strategies": [REGISTERED, "bad-1"]}
    text = json.dumps(request, indent=2)
    line = 1 + text.splitlines().index('    "bad-1"')
    path = tmp_path / "request.json"
    path.write_text(text)
    output = invoke(home, ["backtest", "run", "--request", str(path)])
    assert f"request.json line {line}: strategy 2" in output
    assert "trade_size '0.5': is not a multiple of SYN01.SIM's size increment 1" in output


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        ("entry_threshold=5", "--param entry_threshold: Input should be less than or equal to 1"),
        ("min_confidence=-1", "--param min_confidence: Input should be greater than or equal"),
        ("max_holding_bars=0", "--param max_holding_bars: Input should be greater than or equal"),
        ("exit_threshold=0.9", "exit_threshold must be below entry_threshold"),
    ],
)
def test_a_family_shorthands_own_checks_name_the_flag(
    home: Path, param: str, expected: str
) -> None:
    args = ["backtest", "run", "--strategy", "sentiment_reaction", "--instrument", "SYN01.SIM"]
    assert expected in invoke(home, [*args, "--signals", "SENTIMENT", "--param", param])
