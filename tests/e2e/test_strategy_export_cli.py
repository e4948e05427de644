"""``quantdesk strategy export`` as a user types it: write, refuse to overwrite, register back."""

import json
import sys
from pathlib import Path

import pytest

from support.console import Cli
from support.registry import EXAMPLES

PACKAGE = "qd_cli_exports"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.delenv("QUANTDESK_DATABASE_URL", raising=False)
    plugins = tmp_path / "plugins"
    (plugins / PACKAGE).mkdir(parents=True)
    (plugins / PACKAGE / "__init__.py").write_text("")
    monkeypatch.setenv("QUANTDESK_PLUGIN_PACKAGES", PACKAGE)
    monkeypatch.setenv("QUANTDESK_PLUGIN_PATHS", str(plugins))
    yield Cli(tmp_path / "home")
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]


def counterpart_of(source: str) -> dict[str, object]:
    header = [line[2:] for line in source.splitlines() if line.startswith("# ")]
    start = next(i for i, line in enumerate(header) if line == "{")
    found, _ = json.JSONDecoder().raw_decode("\n".join(header[start:]))
    assert isinstance(found, dict)
    return found


def test_export_writes_a_module_that_registers_back_as_custom(cli: Cli, tmp_path: Path) -> None:
    cli.ok("strategy", "add", EXAMPLES / "momentum_rotation.yaml")
    target = tmp_path / "plugins" / PACKAGE / "rotation_v1.py"
    module = f"{PACKAGE}.rotation_v1"
    written = cli.ok("strategy", "export", "rotation-syn@1", "--out", target, "--module", module)
    assert f"rotation-syn@1: written to {target}" in " ".join(written.split())
    source = target.read_text()
    assert source.startswith("# Exported by `quantdesk strategy export rotation-syn@1`")
    assert "    lookback: int = 720\n" in source and "rebalance_every: int = 240" in source
    assert 'trade_size: Decimal = Decimal("100")' in source
    compile(source, str(target), "exec")

    refused = cli.refused("strategy", "export", "rotation-syn@1", "--out", target)
    assert "exists" in refused and "--force" in refused
    cli.ok("strategy", "export", "rotation-syn", "--out", target, "--module", module, "--force")

    definition = tmp_path / "rotation-export.json"
    counterpart = counterpart_of(target.read_text())
    definition.write_text(json.dumps(counterpart))
    assert "rotation-syn-export@1: registered" in cli.ok("strategy", "add", definition)
    shown = cli.ok("strategy", "show", "rotation-syn-export@1")
    assert "family: custom" in shown and f"{module}:MomentumRotation" in shown
    assert "is a custom strategy" in cli.refused("strategy", "export", "rotation-syn-export")


def test_export_to_stdout_names_a_placeholder_module(cli: Cli) -> None:
    cli.ok("strategy", "add", EXAMPLES / "momentum_rotation.yaml")
    printed = cli.ok("strategy", "export", "rotation-syn@1")
    assert "your_package.your_module:MomentumRotation" in printed
    assert "class MomentumRotationConfig(FamilyConfig" in printed


def test_export_refusals_are_one_clear_line(cli: Cli) -> None:
    assert "not registered" in cli.refused("strategy", "export", "nope@1")
    cli.ok("strategy", "add", EXAMPLES / "momentum_rotation.yaml")
    refused = cli.refused("strategy", "export", "rotation-syn", "--module", "no-dash")
    assert "module name 'no-dash' is not a dotted Python module name" in refused
