"""The CLI's known hostile inputs, one by one: the issue's item 8 and what the fuzz suite found.

Each case runs against a prepared desk (support/fuzz.py) under the same checks as the fuzz
suite (test_cli_fuzz.py) and must end in a named error (exit 2 or 3), never exit 1. A case
that is not fixed yet is listed in XFAIL with the finding it waits for (strict: it must
start passing once fixed, and then leaves the list).
"""

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from support import fuzz_files as files
from support import fuzz_inputs as inputs
from support.fuzz import (
    BAR_TARGET,
    BASE_BACKTEST,
    STRATEGY_EXAMPLES,
    Desk,
    changes,
    check,
    setup_desk,
    snapshot,
)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Desk:
    return setup_desk(tmp_path_factory.mktemp("regressions"))


# the item-8 inputs, one by one ---------------------------------------------------------


def _request(tmp: Path, **changes: object) -> list[str]:
    document = {**files.BASE_REQUEST, **changes}
    path = tmp / "request.json"
    path.write_text(inputs.flow(document))
    return ["backtest", "run", "--request", str(path)]


def _config(**changes: object) -> list[dict[str, object]]:
    """An old-style strategy (import paths and config): refused as such, whatever it holds."""
    strategy = files.OLD_STRATEGY
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
    "request the same version twice": lambda tmp: _request(
        tmp, strategies=[files.SHORTHAND_REF, f"{files.SHORTHAND_REF}@1"]
    ),
    "request an unknown reference": lambda tmp: _request(tmp, strategies=["nothing-here"]),
    "request instruments": lambda tmp: _request(tmp, instruments=["SYN01.SIM"]),
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
    "audit list --after 2**100": lambda tmp: ["audit", "list", "--after", str(2**100)],
    "bars with a price of 1e308": lambda tmp: _bars(
        tmp, ".csv", b"timestamp,open,high,low,close,volume\n"
        b"2024-01-03T00:01:00Z,1e308,1e308,1e308,1e308,1\n"
    ),
    "instruments add --lot-size {}": lambda tmp: [
        "instruments", "add", "--id", "FZ2.SIM", "--asset-class", "equity", "--currency", "USD",
        "--tick-size", "0.01", "--lot-size", "{}",
    ],
}  # fmt: skip
XFAIL: dict[str, str] = {}  # name -> the finding (fuzz_findings.md of issue 12), while unfixed


def _bars(tmp: Path, suffix: str, content: bytes) -> list[str]:
    path = tmp / f"bars{suffix}"
    path.write_bytes(content)
    return ["data", "ingest", "bars", str(path), "--instrument", BAR_TARGET]


def _list_timestamp_parquet() -> bytes:
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
    assert outcome.stderr.startswith(("error:", "Usage:")), outcome  # ours, or click's


SETTING_REGRESSIONS = {  # found by this suite
    "QUANTDESK_PLUGIN_PATHS too long": {"QUANTDESK_PLUGIN_PATHS": "1" * 5000},
    "QUANTDESK_REDIS_URL not a URL": {"QUANTDESK_REDIS_URL": "abc"},
    "QUANTDESK_DATABASE_URL under a file": {"QUANTDESK_DATABASE_URL": "sqlite:////dev/null/x.db"},
    "QUANTDESK_DATABASE_URL without its driver": {
        "QUANTDESK_DATABASE_URL": "postgresql+psycopg2://fuzz@127.0.0.1:1/x"
    },
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
    outcome = check(desk, ["strategy", "show", "twap-syn02"], label=name, env=env)
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
