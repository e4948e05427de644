"""Settings from the environment: a bad value is named by its variable, never a traceback.

Issue 12 (fuzz findings): ``QUANTDESK_REDIS_URL=abc`` ended every command in redis-py's
ValueError, a 5,000-character ``QUANTDESK_PLUGIN_PATHS`` in an OSError, and a huge
``signals list --limit`` in an OverflowError deep in the signal store.
"""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdesk.bootstrap import bootstrap
from quantdesk.cli.app import EXIT_INVALID, create_cli
from quantdesk.domain.errors import InvalidInputError

SECRET = "hunter2-do-not-print"


def run(home: Path, *args: str) -> tuple[int, str]:
    app = create_cli(lambda h: bootstrap(home=h))
    result = CliRunner().invoke(app, ["--home", str(home), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, " ".join(result.output.split())


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("QUANTDESK_REDIS_URL", f"abc{SECRET}", "QUANTDESK_REDIS_URL is not a URL"),
        ("QUANTDESK_REDIS_URL", f"http://u:{SECRET}@x", "redis://, rediss://, unix://"),
        ("QUANTDESK_DATABASE_URL", f"mysql://u:{SECRET}@x/db", "QUANTDESK_DATABASE_URL"),
        ("QUANTDESK_PLUGIN_PATHS", "1" * 5000, "QUANTDESK_PLUGIN_PATHS: '11111"),
        ("QUANTDESK_PLUGIN_CHECK_SECONDS", "nan", "QUANTDESK_PLUGIN_CHECK_SECONDS"),
    ],
)
def test_a_bad_setting_is_named_by_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv(variable, value)
    code, output = run(tmp_path / "home", "instruments", "list")
    assert code == EXIT_INVALID, output
    assert says in output
    assert SECRET not in output
    assert len(output) < 600  # a 5,000-character value is not echoed whole


def test_an_empty_url_variable_is_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTDESK_REDIS_URL", "")
    monkeypatch.setenv("QUANTDESK_DATABASE_URL", " ")
    code, output = run(tmp_path / "home", "instruments", "list")
    assert code == 0, output


@pytest.mark.parametrize("limit", [0, 1_000_001, 2**63])
def test_a_listing_limit_is_bounded(tmp_path: Path, limit: int) -> None:
    code, output = run(tmp_path / "home", "signals", "list", "--limit", str(limit))
    assert code == EXIT_INVALID, output
    with pytest.raises(InvalidInputError, match=r"outside 1 \.\. 1,000,000"):
        bootstrap(home=tmp_path / "home").signals.list(limit=limit)
