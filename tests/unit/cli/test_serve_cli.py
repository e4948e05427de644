"""``quantdesk serve``: loopback by default, a warning for any other interface, the first
admin's password printed once, the home handed to the workers, bad options refused."""

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdesk.cli.app import create_cli
from quantdesk.cli.serve import ServeOptions, is_loopback
from support.api_app import FakeParts, fake_desk


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[ServeOptions], object]:
    monkeypatch.setenv("QUANTDESK_HOME", "unused")  # restored afterwards: the command sets it
    monkeypatch.delenv("QUANTDESK_HOME")
    calls: list[ServeOptions] = []
    desk = fake_desk(tmp_path / "home", FakeParts())
    app = create_cli(lambda home: desk, serve=calls.append)
    return calls, app


def _invoke(app: object, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["serve", *args])  # type: ignore[arg-type]
    return result.exit_code, result.stdout, result.stderr


def test_loopback_by_default_and_the_password_once(
    served: tuple[list[ServeOptions], object], tmp_path: Path
) -> None:
    calls, app = served
    code, out, err = _invoke(app)
    assert code == 0, err
    assert calls == [ServeOptions(host="127.0.0.1", port=8000, workers=1)]
    assert "one-time-admin-password" in err
    assert "one-time-admin-password" not in out
    assert "warning" not in err
    assert os.environ["QUANTDESK_HOME"] == str(tmp_path / "home")
    code, out, err = _invoke(app, "--port", "8123", "--workers", "3")
    assert code == 0
    assert calls[-1] == ServeOptions(host="127.0.0.1", port=8123, workers=3)
    assert "one-time-admin-password" not in out + err


def test_another_interface_is_warned_about(served: tuple[list[ServeOptions], object]) -> None:
    calls, app = served
    code, _, err = _invoke(app, "--host", "0.0.0.0")
    assert code == 0
    assert "warning" in err and "0.0.0.0" in err
    assert calls[-1].host == "0.0.0.0"


@pytest.mark.parametrize("args", [["--port", "0"], ["--port", "70000"], ["--workers", "0"]])
def test_bad_options_are_refused(
    served: tuple[list[ServeOptions], object], args: list[str]
) -> None:
    calls, app = served
    code, _, _ = _invoke(app, *args)
    assert code == 2
    assert calls == []


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("desk.example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
