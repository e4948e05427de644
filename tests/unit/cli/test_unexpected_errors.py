"""The one guard of every command: no traceback, one line with a correlation id, the log.

The platform factory raises what a command did not foresee, as a bug or a Rust panic would
(pyo3's PanicException derives from BaseException, not Exception).
"""

import errno
import re
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner, Result

from quantdesk.bootstrap import bootstrap
from quantdesk.cli import crash_log
from quantdesk.cli.app import EXIT_INVALID, EXIT_UNEXPECTED, create_cli
from quantdesk.cli.context import resolve_home
from quantdesk.cli.crash_log import LOG_NAME, masked_argv
from quantdesk.cli.errors import EXIT_INTERRUPTED, GuardedGroup
from quantdesk.services.platform import Platform
from quantdesk.settings import QuantdeskSettings

LINE = re.compile(
    r"^error: unexpected failure \(correlation id (?P<id>[0-9a-f]{12})\): (?P<what>.+)\. "
    r"Please report it with the log file (?P<log>\S+)(?P<fallback> \(the home could not "
    r"hold the log\))?$"
)


class PanicException(BaseException):  # named as pyo3 names it
    """What pyo3 raises when Rust code panics: a BaseException, past ``except Exception``."""


def raising(error: BaseException) -> Callable[[Path | None], Platform]:
    def factory(home: Path | None) -> Platform:
        raise error

    return factory


def invoke(factory: Callable[[Path | None], Platform], *args: str) -> Result:
    return CliRunner().invoke(create_cli(factory), list(args), catch_exceptions=False)


def the_line(result: Result) -> re.Match[str]:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    match = LINE.match(lines[0])
    assert match is not None, lines[0]
    return match


@pytest.mark.parametrize(
    "error",
    [RuntimeError("boom in the engine"), PanicException("called `Option::unwrap()` on None")],
    ids=["RuntimeError", "PanicException"],
)
def test_an_unforeseen_failure_is_one_line_and_a_logged_traceback(
    tmp_path: Path, error: BaseException
) -> None:
    home = tmp_path / "home"
    result = invoke(raising(error), "--home", str(home), "data", "list")
    assert result.exit_code == EXIT_UNEXPECTED
    assert "Traceback" not in result.stderr + result.stdout
    match = the_line(result)
    assert match["what"] == f"{type(error).__name__}: {error}"
    log = Path(match["log"])
    assert log == (home / "logs" / LOG_NAME).resolve() and match["fallback"] is None
    entry = log.read_text()
    assert f"correlation id {match['id']}" in entry
    assert "Traceback (most recent call last)" in entry and str(error) in entry
    assert f"command: quantdesk --home {home} data list" in entry


def test_each_failure_gets_its_own_id_and_the_log_keeps_both(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ids = [
        the_line(invoke(raising(KeyError("x")), "--home", str(home), "instruments", "list"))["id"]
        for _ in range(2)
    ]
    assert ids[0] != ids[1]
    entry = (home / "logs" / LOG_NAME).read_text()
    assert all(f"correlation id {i}" in entry for i in ids)


def test_the_log_goes_to_the_environment_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANTDESK_HOME", str(tmp_path / "env-home"))
    result = invoke(raising(RuntimeError("x")), "data", "list")
    assert Path(the_line(result)["log"]) == (tmp_path / "env-home" / "logs" / LOG_NAME).resolve()


def test_a_home_that_cannot_hold_the_log_falls_back_to_the_temp_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "logs").write_text("a file where the log directory belongs")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    result = invoke(raising(RuntimeError("x")), "--home", str(home), "data", "list")
    assert result.exit_code == EXIT_UNEXPECTED
    match = the_line(result)
    assert match["fallback"] is not None
    assert Path(match["log"]).is_relative_to((tmp_path / "tmp").resolve())
    assert f"correlation id {match['id']}" in Path(match["log"]).read_text()


def test_passwords_in_urls_stay_out_of_the_line_and_the_log(tmp_path: Path) -> None:
    home = tmp_path / "home"
    error = RuntimeError("cannot connect to postgresql+psycopg://desk:hunter2@db/quantdesk")
    result = invoke(raising(error), "--home", str(home), "data", "list")
    assert "hunter2" not in result.stderr
    assert "postgresql+psycopg://desk:***@db/quantdesk" in result.stderr
    assert "hunter2" not in (home / "logs" / LOG_NAME).read_text()


def test_secret_looking_values_are_masked_in_the_logged_command_line() -> None:
    argv = ["quantdesk", "--audit-key", "s3cret", "--database-url=sqlite:///x", "--token=t",
            "plain", "--home", "h", "redis://:pw@host:6379/0", "--author", "ann",
            "--auth-header", "x"]  # fmt: skip
    assert masked_argv(argv) == ["quantdesk", "--audit-key", "***", "--database-url=***",
                                 "--token=***", "plain", "--home", "h",
                                 "redis://:***@host:6379/0", "--author", "ann",
                                 "--auth-header", "***"]  # fmt: skip


def test_ctrl_c_exits_130_without_a_traceback(tmp_path: Path) -> None:
    result = invoke(raising(KeyboardInterrupt()), "--home", str(tmp_path), "data", "list")
    assert result.exit_code == EXIT_INTERRUPTED
    assert result.stderr.strip() == "interrupted"
    assert not (tmp_path / "logs").exists()


def test_an_exit_raised_by_a_command_is_not_a_failure(tmp_path: Path) -> None:
    result = invoke(raising(typer.Exit(0)), "--home", str(tmp_path), "data", "list")
    assert result.exit_code == 0 and result.stderr == ""


@pytest.mark.parametrize(
    "args", [["data", "list", "--bogus"], ["no-such-command"], ["backtest", "run", "--balance"]]
)
def test_usage_errors_stay_clicks_own(tmp_path: Path, args: list[str]) -> None:
    result = invoke(raising(RuntimeError("never built")), "--home", str(tmp_path), *args)
    assert result.exit_code == EXIT_INVALID
    assert "Traceback" not in result.stderr + result.stdout
    assert "unexpected failure" not in result.stderr


# --home that cannot be one ------------------------------------------------------------------


def real(home: Path | None) -> Platform:
    return bootstrap(home=home)


def test_a_home_that_is_a_file_is_refused_by_name(tmp_path: Path) -> None:
    home = tmp_path / "desk"
    home.write_text("not a directory")
    for args in (["data", "list"], ["instruments", "list"], ["strategy", "list"]):
        result = invoke(real, "--home", str(home), *args)
        assert result.exit_code == EXIT_INVALID, result.stderr
        assert result.stderr.startswith(f"error: QUANTDESK_HOME {home} is a file, not a directory")
        assert "Traceback" not in result.stderr + result.stdout


def test_a_home_from_the_environment_that_is_a_file_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "desk"
    home.write_text("not a directory")
    monkeypatch.setenv("QUANTDESK_HOME", str(home))
    result = invoke(real, "data", "list")
    assert result.exit_code == EXIT_INVALID
    assert f"QUANTDESK_HOME {home} is a file, not a directory" in result.stderr


def test_a_home_whose_catalog_is_a_file_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "catalog").write_text("not a directory")
    result = invoke(real, "--home", str(tmp_path), "data", "list")
    assert result.exit_code == EXIT_INVALID
    assert f"{tmp_path / 'catalog'} is a file, not a directory" in result.stderr


def test_a_home_without_permission_is_refused_by_name(tmp_path: Path) -> None:
    denied = PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "catalog"))
    result = invoke(raising(denied), "--home", str(tmp_path), "data", "list")
    assert result.exit_code == EXIT_INVALID
    assert result.stderr.startswith(
        f"error: QUANTDESK_HOME {tmp_path} is unusable: {tmp_path / 'catalog'} is not writable"
    )


def test_the_cli_resolves_the_home_as_the_settings_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QUANTDESK_HOME", raising=False)
    assert resolve_home(None) == QuantdeskSettings().home
    monkeypatch.setenv("quantdesk_home", str(tmp_path))  # pydantic-settings ignores case
    assert resolve_home(None) == QuantdeskSettings().home == tmp_path
    assert resolve_home(tmp_path / "flag") == tmp_path / "flag"


class _FailingCatalog:
    def __init__(self, error: OSError) -> None:
        self.error = error

    def entries(self, instrument: str | None = None) -> list[object]:
        raise self.error


def failing_catalog(error: OSError) -> Callable[[Path | None], Platform]:
    def factory(home: Path | None) -> Platform:
        return replace(bootstrap(home=home), catalog=_FailingCatalog(error))  # type: ignore[arg-type]

    return factory


def test_a_directory_of_the_home_that_is_a_file_later_is_refused_by_name(tmp_path: Path) -> None:
    # As when HOME/runs is a file: the platform is built, storing the run fails.
    runs = tmp_path / "runs"
    error = FileExistsError(errno.EEXIST, "File exists", str(runs))
    result = invoke(failing_catalog(error), "--home", str(tmp_path), "data", "list")
    assert result.exit_code == EXIT_INVALID
    assert result.stderr.startswith(
        f"error: QUANTDESK_HOME {tmp_path} is unusable: {runs} is a file, not a directory"
    )


def test_a_file_system_error_outside_the_home_stays_unexpected(tmp_path: Path) -> None:
    error = FileExistsError(errno.EEXIST, "File exists", str(tmp_path / "elsewhere"))
    result = invoke(failing_catalog(error), "--home", str(tmp_path / "home"), "data", "list")
    assert result.exit_code == EXIT_UNEXPECTED
    assert the_line(result)["what"].startswith("FileExistsError")


def test_a_closed_pipe_is_not_reported_as_a_failure(tmp_path: Path) -> None:
    # ``quantdesk data lineage --json | head -1``: typer quiets it, nothing to report.
    result = invoke(
        raising(BrokenPipeError(32, "Broken pipe")), "--home", str(tmp_path), "data", "list"
    )
    assert "unexpected failure" not in result.stderr
    assert not (tmp_path / "logs").exists()


def test_the_log_is_private_and_rotated_before_it_grows_without_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(crash_log, "MAX_LOG_BYTES", 100)
    log = tmp_path / "logs" / LOG_NAME
    first = crash_log.write_crash_report(RuntimeError("one"), tmp_path, ["quantdesk"])
    assert first.log_path == log.resolve() and log.stat().st_mode & 0o077 == 0
    second = crash_log.write_crash_report(RuntimeError("two"), tmp_path, ["quantdesk"])
    assert second.correlation_id in log.read_text() and first.correlation_id not in log.read_text()
    assert first.correlation_id in log.with_name(LOG_NAME + ".1").read_text()


def test_a_failure_while_options_are_parsed_is_guarded_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An eager option's callback runs before any command: the group's main guards it."""
    monkeypatch.setenv("QUANTDESK_HOME", str(tmp_path))
    app = typer.Typer(cls=GuardedGroup)

    def explode(value: bool) -> None:
        if value:
            raise RuntimeError("parse-time bug")

    @app.callback()
    def root(
        flag: Annotated[bool, typer.Option("--flag", callback=explode, is_eager=True)] = False,
    ) -> None:
        """Root."""

    @app.command()
    def noop() -> None:
        """Nothing."""

    result = CliRunner().invoke(app, ["--flag", "noop"], catch_exceptions=False)
    assert result.exit_code == EXIT_UNEXPECTED
    assert Path(the_line(result)["log"]) == (tmp_path / "logs" / LOG_NAME).resolve()
