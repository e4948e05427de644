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
Measured: ~90 s of CPU for the module (~2 min wall on the shared 2-core machine).
"""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from support import fuzz_files as files
from support import fuzz_inputs as inputs
from support.fuzz import (
    BAR_TARGET,
    BASE_BACKTEST,
    STRATEGY_EXAMPLES,
    SYN,
    Desk,
    changes,
    check,
    option_names,
    setup_desk,
    snapshot,
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
    # and a SQLite path a directory created there (the database's parent is made if missing)
    "QUANTDESK_DATABASE_URL": ["", "abc", "sqlite://", "sqlite:////dev/null/x.db",
                               "sqlite:////proc/fuzz/x.db", "sqlite:////" + "x" * 5000,
                               "postgresql+psycopg://fuzz@127.0.0.1:1/db", "postgresql://",
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
         ["strategy", "show", "twap-eurusd"], ["runs", "list"]]
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


# the item-8 inputs, one by one ---------------------------------------------------------


def _request(tmp: Path, **changes: object) -> list[str]:
    document = {**files.BASE_REQUEST, **changes}
    path = tmp / "request.json"
    path.write_text(inputs.flow(document))
    return ["backtest", "run", "--request", str(path)]


def _config(**changes: object) -> list[dict[str, object]]:
    strategy = files.BASE_REQUEST["strategies"][0]
    return [{**strategy, "config": {**strategy["config"], **changes}}]


def _outside() -> list[dict[str, object]]:
    """A strategy on an instrument the request does not list (defined, without bars)."""
    return _config(instrument_id=BAR_TARGET, bar_type=f"{BAR_TARGET}-1-MINUTE-LAST-EXTERNAL")


def _two_tags() -> list[dict[str, object]]:
    return [*_config(fast=5), *_config(fast=6)]


REGRESSIONS = {
    "backtest --balance -5": lambda tmp: ["backtest", "run", *BASE_BACKTEST, "--balance", "-5"],
    "backtest --balance abc": lambda tmp: ["backtest", "run", *BASE_BACKTEST, "--balance", "abc"],
    "backtest --leverage 0": lambda tmp: ["backtest", "run", *BASE_BACKTEST, "--leverage", "0"],
    "request trade_size 0": lambda tmp: _request(tmp, strategies=_config(trade_size=0)),
    "request trade_size 0.5": lambda tmp: _request(tmp, strategies=_config(trade_size=0.5)),
    "request trade_size 1e20": lambda tmp: _request(
        tmp, strategies=_config(trade_size=inputs.Raw("1e20"))
    ),
    "request duplicate order_id_tag": lambda tmp: _request(tmp, strategies=_two_tags()),
    "request strategy outside the request": lambda tmp: _request(tmp, strategies=_outside()),
    "request end_ns 2**63": lambda tmp: _request(tmp, end_ns=2**63),
    "request starting_balance 1e999999": lambda tmp: _request(
        tmp, venues=[{"name": "SIM", "starting_balance": inputs.Raw("1e999999")}]
    ),
    "strategy show id@99999999999999999999999": lambda tmp: [
        "strategy", "show", "id@99999999999999999999999"
    ],
    "instruments add --tick-size 1e30": lambda tmp: [
        "instruments", "add", "--id", "X.SIM", "--asset-class", "equity", "--currency", "USD",
        "--tick-size", "1e30",
    ],
    "bars with a duplicate header column": lambda tmp: _bars(
        tmp, ".csv", b"timestamp,open,high,low,close,volume,close\n"
        b"2024-01-03T00:01:00Z,100,101,99,100,10,100\n"
    ),
    "bars with a list-typed Parquet timestamp": lambda tmp: _bars(
        tmp, ".parquet", _list_timestamp_parquet()
    ),
    # found by this suite
    "instruments show a 300-character id": lambda tmp: ["instruments", "show", "A" * 300 + ".SIM"],
    "signals list a 300-character instrument": lambda tmp: [
        "signals", "list", "--instrument", "A" * 300 + ".SIM"
    ],
    "signals list --limit 2**63": lambda tmp: ["signals", "list", "--limit", str(2**63)],
    "bars with a price of 1e308": lambda tmp: _bars(
        tmp, ".csv", b"timestamp,open,high,low,close,volume\n"
        b"2024-01-03T00:01:00Z,1e308,1e308,1e308,1e308,1\n"
    ),
    "instruments add --lot-size {}": lambda tmp: [
        "instruments", "add", "--id", "FZ2.SIM", "--asset-class", "equity", "--currency", "USD",
        "--tick-size", "0.01", "--lot-size", "{}",
    ],
}  # fmt: skip
XFAIL: dict[str, str] = {}  # name -> the finding in /tmp/team/fuzz_findings.md, while unfixed


def _bars(tmp: Path, suffix: str, content: bytes) -> list[str]:
    path = tmp / f"bars{suffix}"
    path.write_bytes(content)
    return ["data", "ingest", "bars", str(path), "--instrument", BAR_TARGET]


def _list_timestamp_parquet() -> bytes:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "timestamp": [[1_704_240_060_000_000_000]],
            "open": [100.0], "high": [101.0], "low": [99.0], "close": [100.0], "volume": [10.0],
        }
    )  # fmt: skip
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=XFAIL[n])) if n in XFAIL else n
        for n in REGRESSIONS
    ],
)
def test_regression_inputs_are_refused_clearly(desk: Desk, tmp_path: Path, name: str) -> None:
    # Property: each input of the item 8 (and each the suite found) ends in a named error
    # (exit 2 or 3) that does not blame the home, never a crash.
    outcome = check(desk, REGRESSIONS[name](tmp_path), label=name)
    assert outcome.exit_code in (2, 3), outcome
    assert outcome.stderr.startswith("error:"), outcome


SETTING_REGRESSIONS = {  # found by this suite
    "QUANTDESK_PLUGIN_PATHS too long": {"QUANTDESK_PLUGIN_PATHS": "1" * 5000},
    "QUANTDESK_REDIS_URL not a URL": {"QUANTDESK_REDIS_URL": "abc"},
    "QUANTDESK_DATABASE_URL under a file": {"QUANTDESK_DATABASE_URL": "sqlite:////dev/null/x.db"},
    "QUANTDESK_DATABASE_URL without its driver": {"QUANTDESK_DATABASE_URL": "postgresql://"},
}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=XFAIL[n])) if n in XFAIL else n
        for n in SETTING_REGRESSIONS
    ],
)
def test_setting_regressions_are_refused_clearly(desk: Desk, name: str) -> None:
    # Property: a bad QUANTDESK_ value is a named error (exit 2), never a crash.
    env = SETTING_REGRESSIONS[name]
    outcome = check(desk, ["strategy", "show", "twap-eurusd"], label=name, env=env)
    assert outcome.exit_code == 2, outcome
    assert next(iter(env)) in outcome.stderr, outcome


def test_home_pointing_at_a_file_is_refused_clearly(desk: Desk, tmp_path: Path) -> None:
    # Property: a --home that is a file is a named error, not a traceback.
    home = tmp_path / "not-a-directory"
    home.write_text("x")
    for args in (["data", "list"], ["strategy", "list"], ["backtest", "run", *BASE_BACKTEST]):
        outcome = check(desk, ["--home", str(home), *args], label="--home file", home=False)
        assert outcome.exit_code == 2, outcome
        assert str(home) in "".join(outcome.stderr.split()), outcome


def _odd_home(tmp: Path, kind: str) -> Path:
    if kind == "under a file":
        (tmp / "file").write_text("x")
        return tmp / "file" / "home"
    if kind == "a symlink loop":
        (tmp / "loop").symlink_to(tmp / "loop")
        return tmp / "loop"
    if kind == "a dangling symlink":
        (tmp / "dangling").symlink_to(tmp / "nowhere" / "at-all")
        return tmp / "dangling"
    if kind == "a name too long":
        return tmp / ("h" * 300)
    if kind == "catalog is a file":
        (tmp / "home" / "catalog").parent.mkdir()
        (tmp / "home" / "catalog").write_text("x")
        return tmp / "home"
    return tmp / "a home\nwith é ✓ and spaces"  # odd but valid: the command works


@pytest.mark.parametrize(
    "kind",
    ["under a file", "a symlink loop", "a dangling symlink", "a name too long",
     "catalog is a file", "odd characters"],
)  # fmt: skip
def test_odd_homes_work_or_are_refused_clearly(desk: Desk, tmp_path: Path, kind: str) -> None:
    # Property: whatever --home names, a command works or says what is wrong (exit 2), no crash.
    home = _odd_home(tmp_path, kind)
    for args in (["data", "list"], ["strategy", "list"], ["backtest", "run", *BASE_BACKTEST]):
        outcome = check(desk, ["--home", str(home), *args], label=f"--home {kind}", home=False)
        assert outcome.exit_code in (0, 2, 3), outcome
        if kind == "odd characters" and args[0] != "backtest":
            assert outcome.exit_code == 0, outcome


def test_the_write_check_sees_writes(desk: Desk, tmp_path: Path) -> None:
    """'Nothing written' must be able to fail: an accepted instrument and strategy show up."""
    before = snapshot(desk.home)
    instrument = tmp_path / "instrument.yaml"
    instrument.write_text("instrument_id: PROBE.SIM\nasset_class: equity\ncurrency: USD\n"
                          "tick_size: 0.01\n")  # fmt: skip
    definition = tmp_path / "strategy.yaml"
    definition.write_text(
        STRATEGY_EXAMPLES[0].read_text().replace("strategy_id:", "strategy_id: probe #")
    )
    for args in (
        ["instruments", "add", str(instrument)],
        ["strategy", "add", str(definition), "--author", "fuzz"],
    ):
        assert check(desk, args, label="write probe").exit_code == 0
    written = changes(before, snapshot(desk.home))
    assert any(c.startswith("catalog: +") for c in written), written
    assert "registry: strategy_versions" in written, written
