"""``strategy add`` with config schemas naming a URL or a file: refused, nothing fetched or read.

The desk is built as a user's is (``bootstrap``), so this covers the checker it wires in.
"""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from quantdesk.bootstrap import bootstrap
from quantdesk.cli.app import create_cli
from support.loopback import listening_bait
from support.plugin_desk import allow_test_plugins


def run(home: Path, *args: str | Path) -> Result:
    app = create_cli(lambda home: bootstrap(home=home))
    return CliRunner().invoke(app, ["--home", str(home), *map(str, args)], env={"COLUMNS": "300"})


def test_strategy_add_never_fetches_what_a_schema_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QUANTDESK_DATABASE_URL", raising=False)
    allow_test_plugins(monkeypatch)
    home = tmp_path / "home"
    with listening_bait(tmp_path) as bait:
        outputs = []
        for n, ref in enumerate([bait.url, bait.file_url, f"{bait.url}#/const"]):
            definition = {
                "strategy_id": f"mine-{n}",
                "family": "custom",
                "name": "my own",
                "instruments": ["SYN01.SIM"],
                "parameters": {
                    "strategy_path": "qd_test_plugins.buyer:Buyer",
                    "config_path": "qd_test_plugins.buyer:BuyerConfig",
                    "config": {"window": 10},
                    "config_schema": {"properties": {"window": {"$ref": ref}}},
                },
            }
            path = tmp_path / f"mine-{n}.json"
            path.write_text(json.dumps(definition))
            result = run(home, "strategy", "add", path)
            assert result.exit_code == 2, result.output
            said = " ".join(result.output.split())
            assert f"parameters.config_schema: remote $ref '{ref}' is not allowed" in said
            assert "a config schema must be self-contained" in said
            outputs.append(result.output)
        listed = run(home, "strategy", "list")
        assert "mine-" not in listed.output
    assert bait.requests == []
    assert all(secret not in text for secret in bait.secrets for text in outputs)
