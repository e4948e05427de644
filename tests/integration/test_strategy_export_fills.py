"""Code export: every family's exported module, registered back as ``custom``, trades exactly
as the family version it came from (same fills: side, quantity, price, time).

Both are registered and run by registry reference on the same small synthetic market (two
instruments, a day of minute bars, a few SENTIMENT signals); the exported module lives in a
plug-in package on the desk's plug-in path, so registering it passes the plug-in policy and
the child-process inspection.
"""

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from quantdesk.adapters.nautilus.translate import decode, spec_of
from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.backtest_records import FillRecord
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.families import StrategyFamily
from quantdesk.services.platform import Platform
from quantdesk.services.strategy_export import export_definition
from quantdesk.services.synthetic import DEFAULT_START_NS, SyntheticMarketConfig
from quantdesk.services.translation import from_spec, to_spec
from quantdesk.settings import QuantdeskSettings
from support.plugin_desk import check_each_plugin_set_once
from support.signals import raw_signal

PACKAGE = "qd_exports"
RUFF = str(Path(sys.executable).with_name("ruff"))
LINT = ("check", "--no-cache", "--isolated", "--line-length", "100", "--select", "E,F,W,I")
A, B = "SYN01.SIM", "SYN02.SIM"
MINUTE = 60_000_000_000
SENTIMENT = [(60, 0.8, A), (200, 0.05, A), (300, -0.9, A), (500, 0.7, B), (700, -0.6, B)]

PARAMETERS: dict[StrategyFamily, tuple[list[str], dict[str, Any], list[str]]] = {
    StrategyFamily.TREND_FOLLOWING: (
        [A],
        {"fast_period": 5, "slow_period": 20, "trade_size": "10", "atr_stop_multiple": 2.0},
        [],
    ),
    StrategyFamily.MEAN_REVERSION: (
        [A],
        {"lookback": 20, "entry_zscore": 1.5, "exit_zscore": 0.2, "trade_size": "10"},
        [],
    ),
    StrategyFamily.VOLATILITY_BREAKOUT: (
        [A],
        {"channel_period": 10, "atr_period": 5, "breakout_atr_multiple": 0.1, "trade_size": "10"},
        [],
    ),
    StrategyFamily.MOMENTUM_ROTATION: (
        [A, B],
        {"lookback": 30, "rebalance_every": 15, "top_n": 1, "trade_size": "10"},
        [],
    ),
    StrategyFamily.STATISTICAL_ARBITRAGE: (
        [A, B],
        {"lookback": 60, "entry_zscore": 1.0, "exit_zscore": 0.2, "trade_size": "10"},
        [],
    ),
    StrategyFamily.REGIME_SWITCHING: (
        [A],
        {
            "regime_source": "volatility",
            "trend_fast_period": 5,
            "trend_slow_period": 20,
            "volatility_lookback": 30,
            "trade_size": "10",
        },
        [],
    ),
    StrategyFamily.SENTIMENT_REACTION: (
        [A, B],
        {"max_holding_bars": 90, "trade_size": "10"},
        ["SENTIMENT"],
    ),
    StrategyFamily.EXECUTION: (
        [A],
        {
            "algorithm": "twap",
            "side": "buy",
            "total_quantity": "100",
            "horizon_minutes": 30,
            "slice_interval_seconds": 300,
        },
        [],
    ),
}


def definition_of(family: StrategyFamily) -> StrategyDefinition:
    instruments, parameters, signals = PARAMETERS[family]
    return StrategyDefinition.model_validate(
        {
            "strategy_id": f"{family.value.replace('_', '-')}-src",
            "family": family.value,
            "name": f"{family.value} source",
            "instruments": instruments,
            "parameters": parameters,
            "signal_subscriptions": signals,
        }
    )


@pytest.fixture(scope="module")
def plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plugins")
    (root / PACKAGE).mkdir()
    (root / PACKAGE / "__init__.py").write_text("")
    return root


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, plugins: Path) -> Platform:
    home = tmp_path_factory.mktemp("export") / "home"
    settings = QuantdeskSettings(home=home, plugin_packages=(PACKAGE,), plugin_paths=(plugins,))
    made = bootstrap(settings)
    made.synthetic.synthesize(SyntheticMarketConfig(instruments=2, days=1, seed=4))
    records = [
        raw_signal(
            signal_type="SENTIMENT",
            instrument_id=instrument,
            ts_event=DEFAULT_START_NS + minute * MINUTE,
            lag_ns=MINUTE // 2,
            confidence=0.9,
            value={"score": score},
        )
        for minute, score, instrument in SENTIMENT
    ]
    path = home.parent / "sentiment.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    made.signals.ingest_file(path)
    yield made
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]


def fills(desk: Platform, ref: str) -> list[tuple[str, str, str, int]]:
    """The run of one registered version, by reference: (side, quantity, price, ts)."""
    definition = desk.registry.resolve(ref).definition
    result = desk.backtests.run(
        BacktestRequest.model_validate(
            {
                "strategies": [ref],
                "signals": [t.value for t in definition.signal_subscriptions] or "none",
                "engine": {"log_level": "OFF"},
            }
        )
    )
    records: list[FillRecord] = list(desk.backtests.artifacts(result.run_id).fills)
    return [(str(f.side), str(f.quantity), str(f.price), f.ts_ns) for f in records]


def register(desk: Platform, data: dict[str, Any]) -> str:
    definition = StrategyDefinition.model_validate(data)
    return desk.registry.add(definition, "tests", "export round trip").stored.ref


def imported_modules(source: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            found.add(node.module or "")
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


@pytest.mark.parametrize("family", list(PARAMETERS))
def test_exported_module_registered_as_custom_fills_exactly_as_its_source(
    family: StrategyFamily, desk: Platform, plugins: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the exported module is inspected and audited in the child process once, at its first
    # registration; the bare twin and the runs by reference name the same class
    check_each_plugin_set_once(monkeypatch)
    source = desk.registry.resolve(register(desk, definition_of(family).model_dump())).definition
    module = f"{PACKAGE}.{family.value}_v{source.version}"
    exported = export_definition(source, desk.exporter, module)
    text = exported.source
    assert source.ref in text and source.content_hash in text  # the header names its source
    outside = {
        m
        for m in imported_modules(text)
        if m.split(".")[0] not in sys.stdlib_module_names
        and m.split(".")[0] not in {"nautilus_trader", "msgspec", "numpy"}
    }
    assert outside <= {"quantdesk.strategies.base"}
    written = plugins / PACKAGE / f"{module.rsplit('.', 1)[1]}.py"
    written.write_text(text)
    lint = subprocess.run(  # readable: no undefined or unused name, sorted imports, short lines
        [RUFF, *LINT, str(written)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout

    header = [line[2:] for line in text.splitlines() if line.startswith("# ")]
    start = next(i for i, line in enumerate(header) if line == "{")
    counterpart, _ = json.JSONDecoder().raw_decode("\n".join(header[start:]))
    assert counterpart["parameters"]["strategy_path"] == exported.strategy_path
    copy = register(desk, counterpart)  # the plug-in gate inspects the module here
    assert desk.registry.resolve(copy).definition.family is StrategyFamily.CUSTOM

    original = fills(desk, source.ref)
    assert original, f"{family.value} made no fill on the test market: the test proves nothing"
    assert fills(desk, copy) == original
    # the module's defaults alone carry the version: an empty custom config trades the same
    bare = {
        **counterpart,
        "strategy_id": f"{counterpart['strategy_id']}-bare",
        "parameters": {**counterpart["parameters"], "config": {}},
    }
    assert fills(desk, register(desk, bare)) == original

    # the custom version round trips through its own decoded config (it keeps `registry`)
    custom = desk.registry.resolve(copy).definition
    spec = to_spec(custom)
    assert from_spec(spec_of(spec.strategy_path, spec.config_path, decode(spec))) == custom
