"""The CLI fuzz harness: one prepared desk, in-process invocations, and what may not change.

In-process (``typer.testing.CliRunner``) is about a hundred times faster than a subprocess
per example, which is what makes 200 examples per entry point affordable. Every invocation
builds its platform afresh from the home, exactly as the console script does.

``QUANTDESK_FUZZ_SURVEY=FILE`` turns a failing outcome into a JSON line appended to FILE
instead of an assertion, so one run can list every distinct failure (triage only: the
suite itself always asserts); ``QUANTDESK_FUZZ_EXAMPLES=N`` runs more than 200 examples.
"""

import hashlib
import json
import os
import re
import sqlite3
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from hypothesis import event
from hypothesis.control import currently_in_test_context
from typer.testing import CliRunner

from quantdesk.bootstrap import bootstrap
from quantdesk.cli.app import create_cli
from support.signals import raw_signal

EXIT_CODES = frozenset({0, 2, 3})
"""Documented exit codes: 0 done, 2 invalid input, 3 nothing valid (1 is a caught bug)."""
FORBIDDEN = ("Traceback (most recent call last)", "panicked at")

SYN = "SYN01.SIM"  # the synthetic instrument: 1,440 minute bars
BAR_TARGET = "FZBAR.SIM"  # defined, no bars: random bar files go here
DAY_START_NS = 1_704_067_260_000_000_000  # 2024-01-01T00:01Z, the first bar's close
HOUR_NS = 3_600_000_000_000
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
STRATEGY_EXAMPLES = sorted(
    p
    for p in (EXAMPLES / "strategies").glob("*.yaml")
    if p.stem != "delta_hedged_straddle"  # its options chain is not in the fuzz market
)


@dataclass(frozen=True)
class Desk:
    """A prepared QUANTDESK_HOME and the CLI to drive it."""

    home: Path
    app: typer.Typer
    runner: CliRunner
    strategy_ref: str
    run_id: str
    signal_id: str
    scratch: Path

    def file(self, name: str, content: bytes) -> Path:
        """A fuzz input file (overwritten by the next example that uses the same name)."""
        path = self.scratch / name
        path.write_bytes(content)
        return path


@dataclass(frozen=True)
class Outcome:
    args: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str
    error: str | None  # the exception that escaped the command, formatted
    native: str = ""  # what bypassed Python's streams (Rust, C) on file descriptors 1 and 2
    warned: tuple[str, ...] = ()  # Python warnings a user would see (file:line: category)

    @property
    def last_line(self) -> str:
        if self.error:
            return self.error.strip().splitlines()[-1]
        return (self.stderr.strip().splitlines() or [""])[-1]


def cli() -> typer.Typer:
    return create_cli(lambda home: bootstrap(home=home))


def invoke(
    desk: Desk, args: Sequence[str], *, home: bool = True, env: dict[str, str] | None = None
) -> Outcome:
    """Run one command line against the desk's home; an escaping exception is recorded."""
    argv = (["--home", str(desk.home)] if home else []) + list(args)
    with native_output() as native, warnings.catch_warnings(record=True) as caught:
        try:
            result = desk.runner.invoke(desk.app, argv, env={"COLUMNS": "200", **(env or {})})
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:  # a Rust panic (PanicException) is not an Exception
            trace = "".join(traceback.format_exception(error)) or repr(error)
            return Outcome(tuple(args), 1, "", "", trace, native(), _shown(caught))
    escaped = None
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        escaped = "".join(traceback.format_exception(*result.exc_info))  # type: ignore[misc]
    elif result.exit_code == 1:
        escaped = logged_traceback(result.stderr)
    return Outcome(
        tuple(args),
        result.exit_code,
        result.stdout,
        result.stderr,
        escaped,
        native(),
        _shown(caught),
    )


_HIDDEN = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)
"""Categories Python's default filters hide from a user; every other warning is printed,
with the file and line that raised it."""


def _shown(caught: list[warnings.WarningMessage]) -> tuple[str, ...]:
    return tuple(
        f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}"
        for w in caught
        if not issubclass(w.category, _HIDDEN)
    )


@contextmanager
def native_output() -> Iterator[Callable[[], str]]:
    """File descriptors 1 and 2 into a file for the block: a Rust panic message is written
    there, past the streams CliRunner replaces. The reader works inside and after the block."""
    kept: list[str] = []
    with tempfile.TemporaryFile() as sink:

        def read() -> str:
            if kept:
                return kept[0]
            sink.seek(0)
            return sink.read().decode(errors="replace")

        saved = [os.dup(1), os.dup(2)]
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield read
        finally:
            for fd, copy in zip((1, 2), saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)
            kept.append(read())


def logged_traceback(stderr: str) -> str | None:
    """The traceback the CLI's guard logged for the correlation id it printed (exit 1)."""
    found = re.search(r"correlation id ([0-9a-f]+)\).*?log file (\S+?\.log)", stderr, re.S)
    if found is None:
        return None
    correlation_id, log = found.groups()
    try:
        text = Path(log).read_text(errors="replace")
    except OSError:
        return None
    start = text.rfind(f"correlation id {correlation_id}")
    if start < 0:
        return None
    end = text.find("\n=== ", start)
    return text[start : None if end < 0 else end]


def setup_desk(root: Path) -> Desk:
    """A small desk: one synthetic day, a bar-less instrument, a strategy, signals, a run."""
    scratch = root / "inputs"
    scratch.mkdir(parents=True)
    desk = Desk(root / "home", cli(), CliRunner(), "", "", "", scratch)
    instruments = desk.file(
        "instruments.yaml",
        f"instrument_id: {BAR_TARGET}\nasset_class: equity\ncurrency: USD\n"
        "tick_size: 0.01\n".encode(),
    )
    signals = [raw_signal(instrument_id=SYN, ts_event=DAY_START_NS + i * HOUR_NS) for i in range(3)]
    signal_file = desk.file(
        "signals.jsonl", "".join(json.dumps(s) + "\n" for s in signals).encode()
    )
    steps = [
        ["data", "synth", "--instruments", "1", "--days", "1"],
        ["instruments", "add", str(instruments)],
        ["strategy", "add", str(STRATEGY_EXAMPLES[0]), "--author", "fuzz"],
        ["signals", "ingest", str(signal_file)],
        ["backtest", "run", "--json", *BASE_BACKTEST],
    ]
    outcomes = [invoke(desk, step) for step in steps]
    for outcome in outcomes:
        assert outcome.exit_code == 0, outcome
    registered = outcomes[2].stdout.split(":", 1)[0].strip()
    run_id = json.loads(outcomes[4].stdout)["run_id"]
    return Desk(
        desk.home, desk.app, desk.runner, registered, run_id, signals[0]["signal_id"], scratch
    )


BASE_BACKTEST = (
    "--strategy",
    "ema_cross",
    "--param",
    "fast=5",
    "--param",
    "slow=20",
    "--instrument",
    SYN,
    "--start",
    "2024-01-01T00:00Z",
    "--end",
    "2024-01-01T03:00Z",
)
"""A valid 3-hour backtest (~0.2 s): the base that random flags are added to."""


# what a refused input may not touch ------------------------------------------------------------


def snapshot(home: Path) -> dict[str, Any]:
    """The catalog's files (path, size, sha256), the registry's rows, and the stored runs.

    Not covered, on purpose: HOME/ingest (a refused bar ingest keeps its rejects there),
    HOME/signals (signal rejects and the event log), HOME/logs (the guard's tracebacks), and
    empty directories (creating one stores nothing).
    """
    catalog = home / "catalog"
    files = {
        str(path.relative_to(catalog)): (path.stat().st_size, _sha256(path))
        for path in sorted(catalog.rglob("*"))
        if path.is_file()
    }
    runs = sorted(p.name for p in (home / "runs").iterdir()) if (home / "runs").is_dir() else []
    return {"catalog": files, "registry": _registry_rows(home / "quantdesk.db"), "runs": runs}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


_FINISHED_RUNS = "SELECT run_id FROM backtest_runs WHERE state != 'failed'"
_RECORDS_OF_REFUSALS_LEFT_OUT = {
    "backtest_runs": f"SELECT * FROM backtest_runs WHERE run_id IN ({_FINISHED_RUNS})",
    "backtest_run_strategies": "SELECT * FROM backtest_run_strategies "
    f"WHERE run_id IN ({_FINISHED_RUNS})",
}
"""A run the engine refuses is kept as a failed run with its error (issue 14: a run has a
stored state from submission on): the record of a refusal, not a change it made."""


def _registry_rows(database: Path) -> dict[str, str]:
    """Each table's rows, hashed (read-only: the check itself writes nothing)."""
    if not database.exists():
        return {}
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        rows = {}
        for table in tables:
            query = _RECORDS_OF_REFUSALS_LEFT_OUT.get(table, f'SELECT * FROM "{table}"')
            content = sorted(repr(r) for r in connection.execute(query))
            rows[table] = hashlib.sha256("\n".join(content).encode()).hexdigest()
        return rows
    finally:
        connection.close()


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What differs, named: 'catalog: +data/x.parquet', 'registry: strategy_versions', ..."""
    found = []
    for path in sorted(set(before["catalog"]) | set(after["catalog"])):
        if before["catalog"].get(path) != after["catalog"].get(path):
            sign = (
                "+"
                if path not in before["catalog"]
                else "-"
                if path not in after["catalog"]
                else "~"
            )
            found.append(f"catalog: {sign}{path}")
    for table in sorted(set(before["registry"]) | set(after["registry"])):
        if before["registry"].get(table) != after["registry"].get(table):
            found.append(f"registry: {table}")
    found += [f"runs: +{r}" for r in sorted(set(after["runs"]) - set(before["runs"]))]
    return found


# the checks ------------------------------------------------------------------------------------


def check(
    desk: Desk,
    args: Sequence[str],
    *,
    label: str,
    inputs: object = None,
    home: bool = True,
    env: dict[str, str] | None = None,
) -> Outcome:
    """Invoke, then assert the fuzz properties (or, in survey mode, record a violation)."""
    before = snapshot(desk.home)
    outcome = invoke(desk, args, home=home, env=env)
    if currently_in_test_context():  # pytest --hypothesis-show-statistics: how deep inputs got
        event(f"exit {outcome.exit_code}")
    problems = []
    if outcome.error is not None:
        problems.append(f"unexpected failure: {outcome.last_line}")
    if outcome.exit_code not in EXIT_CODES:
        problems.append(f"exit code {outcome.exit_code} (documented: 0, 2, 3)")
    streams = ((outcome.stdout, "stdout"), (outcome.stderr, "stderr"), (outcome.native, "fd 1/2"))
    for text, stream in streams:
        for marker in FORBIDDEN:
            if marker in text:
                problems.append(f"{marker!r} on {stream}")
    problems += [f"a Python warning reaches the user: {w}" for w in outcome.warned]
    if home and "is unusable" in outcome.stderr:  # the desk's home is fine: a wrong reason
        problems.append("refusal blames the home, which is usable")
    if outcome.exit_code != 0:
        written = changes(before, snapshot(desk.home))
        if written:
            problems.append(f"refused (exit {outcome.exit_code}) but wrote {written}")
    if problems:
        _report(label, outcome, problems, inputs)
    return outcome


def _report(label: str, outcome: Outcome, problems: list[str], inputs: object) -> None:
    survey = os.environ.get("QUANTDESK_FUZZ_SURVEY")
    record = {
        "label": label,
        "args": list(outcome.args),
        "inputs": inputs if isinstance(inputs, str | None) else repr(inputs),
        "exit": outcome.exit_code,
        "problems": problems,
        "last_line": outcome.last_line,
        "where": _where(outcome.error),
        "stderr": outcome.stderr[-400:],
    }
    if survey:
        with Path(survey).open("a") as log:
            log.write(json.dumps(record) + "\n")
        return
    raise AssertionError(
        "; ".join(problems)
        + f"\nargs: {list(outcome.args)}\ninputs: {record['inputs']!s:.600}\n"
        + f"stderr: {outcome.stderr[-600:]}\n{outcome.error or ''}"
    )


def _where(error: str | None) -> str:
    """The innermost quantdesk frame of a traceback: where a fix would go."""
    if not error:
        return ""
    frames = [line.strip() for line in error.splitlines() if line.strip().startswith('File "')]
    ours = [f for f in frames if "/quantdesk/" in f and "/tests/" not in f]
    return (ours or frames or [""])[-1]


def option_names(*path: str, flags: bool = True) -> list[str]:
    """The long option names of a command, read from the real CLI (so new flags get fuzzed);
    ``flags=False`` leaves out the options that take no value (``--json``, ``--round``)."""
    command: Any = typer.main.get_command(cli())  # typer's own (vendored) click classes
    for name in path:
        command = command.commands[name]
    names = []
    for param in command.params:
        if param.param_type_name == "option" and (flags or not param.is_flag):
            names += [o for o in param.opts + param.secondary_opts if o.startswith("--")]
    return sorted(n for n in names if n != "--help")
