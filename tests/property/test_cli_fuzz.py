"""A fuzz suite over the CLI: random flags, request documents and files, every entry point.

Entry points, 200 examples each: backtest run (flags from the real option list, and
--request FILE), data ingest bars FILE, signals ingest FILE, instruments add (FILE and
flags), strategy add/update FILE, the show commands with random references, lookups
(tag, deprecate, diff, compare, list filters, risk, audit, signals produce), and the
QUANTDESK_ settings. Each example checks, in process against one prepared desk
(support/fuzz.py):
- the exit code is documented: 0 done, 2 invalid, 3 nothing valid (1, the guard's "this is
  a bug" code, fails the test like an exception that escaped the command);
- no "Traceback" and no Rust "panicked at" on stdout, stderr or file descriptors 1 and 2,
  and no Python warning a user would see (it prints a source file and line);
- a refused input (exit != 0) wrote nothing: the catalog's files (path, size, sha256, the
  lineage and signal journal included), the registry's rows (every table of
  HOME/quantdesk.db) and the stored runs are as they were. Not covered, on purpose:
  HOME/ingest and HOME/signals, where a refused ingest keeps the rejected rows for the user
  to read, HOME/logs (where the guard writes a traceback), HOME/risk, and empty directories;
- no refusal blames the home (the desk's home is always usable).

Accepted inputs may change the desk (a valid random instrument file adds its instrument);
random bar files go to an instrument of their own, so backtests keep their data, and most
backtests are refused before the engine (about 1 in 12 runs it, on 3 hours of bars).
Measured: ~90 s of CPU for the module (~2 min wall on the shared 2-core machine). The known
hostile inputs, one by one, are in test_cli_fuzz_regressions.py.
"""

import os

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from support import fuzz_files as files
from support import fuzz_inputs as inputs
from support.fuzz import (
    BAR_TARGET,
    BASE_BACKTEST,
    SYN,
    Desk,
    check,
    option_names,
    setup_desk,
)

FUZZ = settings(
    max_examples=max(200, int(os.environ.get("QUANTDESK_FUZZ_EXAMPLES", "200"))),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Desk:
    return setup_desk(tmp_path_factory.mktemp("fuzz"))


# backtest run with random flags ---------------------------------------------------------------

BACKTEST_OPTIONS = [o for o in option_names("backtest", "run") if o not in ("--json",)]
ENUM_VALUES = (
    "NETTING", "HEDGING", "MARGIN", "CASH", "BETTING", "volume", "unlimited", "REDUCING",
    "HALTED", "none", "all", "SENTIMENT", "OFF", "ERROR", "ema_cross", "sentiment_reaction",
    SYN, BAR_TARGET, "1-MINUTE-LAST", "1-MINUTE-BID", "2024-01-01T01:00Z", "2024-01-01",
    "fast=10", "slow=1e999999", "trade_size=0",
)  # fmt: skip


PLAUSIBLE = {  # values a user might well type: the run goes on, into the engine
    "--seed": ["3", "-1", str(2**63)], "--label": ["x", "é ✓", "a" * 300],
    "--balance": ["5000", "0.01", "1e9"], "--leverage": ["2", "0.5", "100"],
    "--currency": ["USD", "EUR", "usd"], "--oms": ["HEDGING", "NETTING"],
    "--account": ["CASH", "MARGIN", "BETTING"], "--liquidity": ["unlimited"],
    "--maker-fee": ["0", "-0.01", "0.1"], "--taker-fee": ["0.001", "0.1000001"],
    "--max-position": ["1", "100"], "--max-order-quantity": ["1", "50"],
    "--max-order-notional": ["1000"], "--max-gross-exposure": ["1e6"], "--max-leverage": ["1"],
    "--max-drawdown-pct": ["0.0001", "1"], "--max-daily-loss": ["1", "1e4"],
    "--on-breach": ["HALTED"], "--signals": ["all", "SENTIMENT", "none"],
    "--log-level": ["OFF", "ERROR"], "--bar-spread": ["0.01", "0"],
    "--start": ["2024-01-01T02:00Z", "2024-01-01T02:59Z"], "--end": ["2024-01-01T01:00Z"],
    "--param": ["fast=2", "slow=3", "trade_size=1", "long_only=true", "fast=5.5"],
    "--strategy": ["sentiment_reaction", "ema_cross"], "--bar-spec": ["1-MINUTE-LAST"],
}  # fmt: skip


@st.composite
def backtest_flags(draw: st.DrawFn) -> list[str]:
    """Random options with random values; on top of a valid run in half of the cases, with
    values a user might type in half of those, so that some runs reach the engine."""
    base = draw(st.booleans())
    args = list(BASE_BACKTEST) if base else []
    for _ in range(draw(st.integers(1, 2 if base else 4))):
        option = draw(st.sampled_from(BACKTEST_OPTIONS))
        if base and option in PLAUSIBLE and draw(st.booleans()):
            args += [option, draw(st.sampled_from(PLAUSIBLE[option]))]
            continue
        value = draw(st.one_of(inputs.flag_values, st.sampled_from(ENUM_VALUES)))
        if option == "--param":
            name = draw(st.sampled_from(["fast", "slow", "trade_size", "long_only", "x", ""]))
            value = f"{name}={value}"
        args += [option, value]
    return args


@FUZZ
@given(args=backtest_flags())
@example(args=[*BASE_BACKTEST, "--balance", "1e999999"])
@example(args=[*BASE_BACKTEST, "--param", "trade_size=1e999999"])
def test_backtest_flags_never_crash(desk: Desk, args: list[str]) -> None:
    # Property: no flag value reaches a user as a traceback; a refused run stores nothing.
    check(desk, ["backtest", "run", *args], label="backtest run flags")


# backtest run --request FILE -------------------------------------------------------------------


@FUZZ
@given(content=files.request_files(), suffix=st.sampled_from([".yaml", ".json", ".txt"]))
def test_backtest_request_files_never_crash(desk: Desk, content: bytes, suffix: str) -> None:
    # Property: no request document reaches a user as a traceback; a refused one stores nothing.
    path = desk.file(f"request{suffix}", content)
    check(
        desk, ["backtest", "run", "--request", str(path)], label="backtest request", inputs=content
    )


# data ingest bars FILE -------------------------------------------------------------------------

INGEST_OPTIONS = [
    o for o in option_names("data", "ingest", "bars", flags=False) if o != "--instrument"
]
INGEST_FLAGS = st.lists(
    st.one_of(
        st.sampled_from(
            [
                ["--assume-utc"], ["--round"], ["--timestamp-at", "open"], ["--ts-format", "iso"],
                ["--ts-format", "s"], ["--default-volume", "1e999999"], ["--json"],
                ["--bar-spec", "1-HOUR-LAST"], ["--bar-spec", "0-MINUTE-LAST"],
                ["--timestamp-col", "open"], ["--volume-col", "open"],
            ]
        ),
        st.tuples(st.sampled_from(INGEST_OPTIONS), inputs.flag_values).map(list),
    ),
    max_size=2,
)  # fmt: skip


@FUZZ
@given(file=files.bar_files(), flags=INGEST_FLAGS)
def test_bar_files_never_crash(desk: Desk, file: tuple[str, bytes], flags: list[list[str]]) -> None:
    # Property: no bar file reaches a user as a traceback; a refused one leaves the catalog as is.
    suffix, content = file
    path = desk.file(f"bars{suffix}", content)
    extra = [part for flag in flags for part in flag]
    args = ["data", "ingest", "bars", str(path), "--instrument", BAR_TARGET, *extra]
    check(desk, args, label="data ingest bars", inputs=content)


# instruments add with flags -------------------------------------------------------------------

INSTRUMENT_OPTIONS = option_names("instruments", "add", flags=False)
INSTRUMENT_VALUES = ("FZF.SIM", "equity", "fx", "crypto_spot", "crypto_perpetual", "USD", "BTC",
                     "0.01", "1", "0.5", "1e30", "1e-30")  # fmt: skip


@st.composite
def instrument_flags(draw: st.DrawFn) -> list[str]:
    """Random options over a valid definition half of the time (a fresh id: no clash)."""
    args = []
    if draw(st.booleans()):
        args = ["--id", f"FZ{draw(st.integers(0, 10**6))}.SIM", "--asset-class", "equity",
                "--currency", "USD", "--tick-size", "0.01"]  # fmt: skip
    for _ in range(draw(st.integers(1, 3))):
        value = draw(st.one_of(inputs.flag_values, st.sampled_from(INSTRUMENT_VALUES)))
        args += [draw(st.sampled_from(INSTRUMENT_OPTIONS)), value]
    if draw(st.integers(0, 3)) == 0:
        args.append(draw(st.sampled_from(["--is-inverse", "--replace"])))
    return args


@FUZZ
@given(args=instrument_flags())
def test_instrument_flags_never_crash(desk: Desk, args: list[str]) -> None:
    # Property: no flag value of `instruments add` reaches a user as a traceback.
    check(desk, ["instruments", "add", *args], label="instruments add flags")


# signals ingest FILE ---------------------------------------------------------------------------


@FUZZ
@given(file=files.signal_files())
def test_signal_files_never_crash(desk: Desk, file: tuple[str, bytes]) -> None:
    # Property: no signal file reaches a user as a traceback; a refused one buffers nothing.
    suffix, content = file
    path = desk.file(f"signals{suffix}", content)
    check(desk, ["signals", "ingest", str(path)], label="signals ingest", inputs=content)


# instruments add FILE --------------------------------------------------------------------------


@FUZZ
@given(content=files.instrument_files())
def test_instrument_files_never_crash(desk: Desk, content: bytes) -> None:
    # Property: no instrument file reaches a user as a traceback; a refused one defines nothing.
    path = desk.file("instruments.yaml", content)
    check(desk, ["instruments", "add", str(path)], label="instruments add", inputs=content)


# strategy add / update FILE --------------------------------------------------------------------


@FUZZ
@given(content=files.strategy_files(), how=st.sampled_from(["add", "update"]))
def test_strategy_files_never_crash(desk: Desk, content: bytes, how: str) -> None:
    # Property: no definition file reaches a user as a traceback; a refused one registers nothing.
    path = desk.file("strategy.yaml", content)
    args = ["strategy", how, str(path), "--author", "fuzz"]
    check(desk, args, label=f"strategy {how}", inputs=content)


# show commands with random references ----------------------------------------------------------


@FUZZ
@given(
    command=st.sampled_from(
        [["strategy", "show"], ["instruments", "show"], ["runs", "show"], ["signals", "show"],
         ["strategy", "history"], ["runs", "report"]]
    ),
    ref=inputs.refs,
)  # fmt: skip
def test_show_commands_never_crash(desk: Desk, command: list[str], ref: str) -> None:
    # Property: no reference reaches a user as a traceback, and looking writes nothing.
    check(desk, [*command, "--", ref], label=" ".join(command), inputs=ref)


@st.composite
def lookups(draw: st.DrawFn, desk: Desk) -> list[str]:
    """Commands that take references, names and ranges: random ones, or the desk's own."""
    ref = draw(st.one_of(inputs.refs, st.just(desk.strategy_ref)))
    word = draw(st.one_of(inputs.refs, st.sampled_from(["validated", "live", "x"])))
    text = draw(inputs.flag_values)
    strategy_id = desk.strategy_ref.split("@")[0]
    number = draw(st.one_of(inputs.numbers_as_text, st.sampled_from(["1", "2"])))
    return draw(
        st.sampled_from(
            [
                ["strategy", "tag", "--", ref, word],
                ["strategy", "deprecate", "--reason", text, "--author", "fuzz", "--", ref],
                ["strategy", "diff", "--", strategy_id, number, draw(inputs.numbers_as_text)],
                ["strategy", "list", "--tag", word],
                ["strategy", "list", "--family", word],
                ["runs", "compare", "--", ref, desk.run_id],
                ["signals", "list", "--type", word, "--instrument", text],
                ["signals", "list", "--start", text, "--end", word],
                ["signals", "list", "--limit", number],
                ["data", "list", "--instrument", text],
                ["data", "lineage", "--instrument", text],
                ["risk", "kill", "--strategy", text, "--reason", word, "--actor", "fuzz"],
                ["risk", "kill", "--instrument", text, "--reason", word, "--actor", "fuzz"],
                ["risk", "release", "--strategy", text, "--actor", "fuzz"],
                ["risk", "status"],
                ["signals", "dlq", "list", "--all"],
                ["signals", "dlq", "replay", "--", ref, text],
                ["signals", "show", "--", str(draw(st.uuids()))],
                ["audit", "verify"],
                ["audit", "list", "--after", number],
                [
                    "signals",
                    "produce",
                    draw(st.sampled_from(["regime", "volatility", word])),
                    "--instrument",
                    draw(st.sampled_from([SYN, text])),
                    "--start",
                    text,
                    "--end",
                    "2024-01-01T00:30Z",
                    "--every",
                    number,
                ],
            ]
        )
    )


@FUZZ
@given(data=st.data())
def test_lookups_never_crash(desk: Desk, data: st.DataObject) -> None:
    # Property: no reference, name or range reaches a user as a traceback; a refused one
    # (an unknown version to tag or deprecate) changes nothing in the registry.
    args = data.draw(lookups(desk), label="args")
    check(desk, args, label=" ".join(args[:2]))


SETTINGS = (
    "QUANTDESK_PLUGIN_CHECK_SECONDS",
    "QUANTDESK_PLUGIN_PACKAGES",
    "QUANTDESK_PLUGIN_PATHS",
    "QUANTDESK_AUDIT_KEY",
    "QUANTDESK_AUDIT_KEY_FILE",
)
"""The settings fuzzed with random values."""
URLS = {  # from these lists only: a random URL would be a connection to who knows where,
    # a SQLite path a directory created there (the database's parent is made if missing), and
    # a bare postgresql:// the local server's default database
    "QUANTDESK_DATABASE_URL": ["", "abc", "sqlite://", "sqlite:////dev/null/x.db",
                               "sqlite:////proc/fuzz/x.db", "sqlite:////" + "x" * 5000,
                               "postgresql+psycopg://fuzz@127.0.0.1:1/db",
                               "mysql://u@127.0.0.1:1/x", "://", "http://[::1"],
    "QUANTDESK_REDIS_URL": ["", "abc", "redis://127.0.0.1:1/0", "redis://", "unix:///nonexistent",
                            "redis://:" + "p" * 5000 + "@127.0.0.1:1"],
}  # fmt: skip


@st.composite
def settings_env(draw: st.DrawFn) -> dict[str, str]:
    env = draw(st.dictionaries(st.sampled_from(SETTINGS), inputs.flag_values, max_size=3))
    for name, values in URLS.items():
        if draw(st.integers(0, 3)) == 0:
            env[name] = draw(st.sampled_from(values))
    return env or {"QUANTDESK_PLUGIN_CHECK_SECONDS": draw(inputs.flag_values)}


@FUZZ
@given(
    env=settings_env(),
    command=st.sampled_from(
        [["strategy", "list"], ["instruments", "list"], ["data", "list"], ["signals", "stats"],
         ["strategy", "show", "twap-syn02"], ["runs", "list"]]
    ),
)  # fmt: skip
def test_settings_never_crash(desk: Desk, env: dict[str, str], command: list[str]) -> None:
    # Property: no QUANTDESK_ variable's value reaches a user as a traceback.
    check(desk, command, label="settings", inputs=repr(env), env=env)


def test_show_commands_find_what_the_desk_holds(desk: Desk) -> None:
    """The show tests above must be able to succeed: the desk's own ids are found."""
    for command, ref in (
        (["strategy", "show"], desk.strategy_ref),
        (["instruments", "show"], SYN),
        (["runs", "show"], desk.run_id),
        (["signals", "show"], desk.signal_id),
    ):
        outcome = check(desk, [*command, ref], label="known ref")
        assert outcome.exit_code == 0, outcome
