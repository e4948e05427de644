"""The plug-in repros as a user types them: the console script in a real process."""

import json
import subprocess
from pathlib import Path

from support.console import executable, script_env

PLUGINS = Path(__file__).resolve().parents[1] / "support" / "plugins"
ZEN = "Beautiful is better"


def quantdesk(home: Path, *args: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**script_env(), "COLUMNS": "300", **env}
    if "QUANTDESK_PLUGIN_PACKAGES" not in env:
        environment.pop("QUANTDESK_PLUGIN_PACKAGES", None)
    return subprocess.run(
        [executable(), "--home", str(home), *(str(a) for a in args)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )


def flat(text: str) -> str:
    return " ".join(text.split())


def test_a_request_naming_this_never_prints_the_zen(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert quantdesk(home, "data", "synth", "--instruments", "1", "--days", "1").returncode == 0
    request = tmp_path / "zen.yaml"
    request.write_text(
        "strategies:\n"
        '  - strategy_path: "this:s"\n'
        '    config_path: "this:s"\n'
        "    config: {instrument_id: SYN01.SIM, bar_type: SYN01.SIM-1-MINUTE-LAST-EXTERNAL}\n"
    )
    result = quantdesk(home, "backtest", "run", "--request", request)
    assert ZEN not in result.stdout and ZEN not in result.stderr
    assert result.returncode == 2, result.stdout + result.stderr
    output = flat(result.stdout + result.stderr)
    assert "strategies.0: strategy 1 is not a registry reference" in output
    assert "import paths" in output and "no longer accepted from requests" in output
    assert "Traceback" not in output
    assert not (home / "runs").exists() or not any((home / "runs").iterdir())


def _custom(path: Path, strategy_path: str, config_path: str) -> Path:
    path.write_text(
        json.dumps(
            {
                "strategy_id": "mine",
                "family": "custom",
                "name": "my own",
                "instruments": ["SYN01.SIM"],
                "parameters": {"strategy_path": strategy_path, "config_path": config_path},
            }
        )
    )
    return path


def test_a_custom_definition_naming_os_system_does_not_register(tmp_path: Path) -> None:
    home = tmp_path / "home"
    definition = _custom(tmp_path / "system.json", "os:system", "os:system")
    result = quantdesk(home, "strategy", "add", definition)
    assert result.returncode == 2, result.stdout + result.stderr
    output = flat(result.stdout + result.stderr)
    assert "parameters.strategy_path 'os:system' is not allowed" in output
    assert "Traceback" not in output
    listed = quantdesk(home, "strategy", "list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []


def test_an_allowed_plugin_registers_from_the_settings(tmp_path: Path) -> None:
    home = tmp_path / "home"
    definition = _custom(
        tmp_path / "buyer.json", "qd_test_plugins.buyer:Buyer", "qd_test_plugins.buyer:BuyerConfig"
    )
    settings = {
        "QUANTDESK_PLUGIN_PACKAGES": "qd_test_plugins",
        "QUANTDESK_PLUGIN_PATHS": str(PLUGINS),
    }
    result = quantdesk(home, "strategy", "add", definition, **settings)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mine@1: registered" in result.stdout
    wrong = quantdesk(home, "strategy", "add", definition, QUANTDESK_PLUGIN_PACKAGES="os")
    assert wrong.returncode == 2
    message = flat(wrong.stdout + wrong.stderr)
    assert "QUANTDESK_PLUGIN_PACKAGES: 'os' is not a plug-in package" in message
