"""The ``quantdesk`` console script as a user types it: real processes, real files, exit codes.

Each process pays the engine import (about a second), so the steps are grouped into scenarios
that share one QUANTDESK_HOME.
"""

import csv
import hashlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

import quantdesk
from support.bars import rows
from support.console import executable, script_env
from support.environment import shared_file

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "instruments"
WriteCsv = Callable[..., Path]


def flat(text: str) -> str:
    """Text without any whitespace, so that rich's line wrapping cannot break a match."""
    return "".join(text.split())


def line_with(text: str, *needles: str) -> str:
    """The one output line that holds every needle (a table row)."""
    found = [line for line in text.splitlines() if all(n in line for n in needles)]
    assert len(found) == 1, f"expected one line with {needles} in:\n{text}"
    return found[0]


def cells(row: str) -> list[str]:
    """The cells of a rich table row."""
    return [cell.strip() for cell in row.split("│")[1:-1]]


def counts(output: str, series: str) -> list[str]:
    """An ingest summary's read, written, already there and rejected for one series."""
    return cells(line_with(output, series))[1:5]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Desk:
    """Runs ``quantdesk --home HOME ...`` in a subprocess."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.executable = executable()

    def __call__(self, *args: str | Path, home: bool = True) -> subprocess.CompletedProcess[str]:
        prefix = ["--home", str(self.home)] if home else []
        return subprocess.run(
            [self.executable, *prefix, *(str(a) for a in args)],
            capture_output=True,
            text=True,
            env=script_env(),
            timeout=300,
            check=False,
        )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    return Desk(tmp_path / "home")


def test_version(desk: Desk) -> None:
    result = desk("--version", home=False)
    assert ok(result).strip() == f"quantdesk {quantdesk.__version__}"


def test_instruments_from_files(desk: Desk, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "instruments:\n"
        "  - instrument_id: GOOD.XNAS\n"
        "    asset_class: equity\n"
        "    currency: USD\n"
        "    tick_size: 0.01\n"
        "  - instrument_id: BROKEN.XNAS\n"
        "    asset_class: equity\n"
        "    currency: USD\n"
        "    tick_size: 0\n"  # line 9
    )
    refused = desk("instruments", "add", bad)
    assert refused.returncode == 2, refused
    assert "error:" in refused.stderr
    assert "line 9:" in refused.stderr
    assert "tick_size" in refused.stderr
    assert flat(str(bad)) in flat(refused.stderr)
    assert "Traceback" not in refused.stderr
    assert "added" not in refused.stdout

    added = ok(desk("instruments", "add", EXAMPLES / "equities.yaml"))
    assert added.splitlines() == ["AAPL.XNAS: added", "MSFT.XNAS: added"]

    listed = ok(desk("instruments", "list"))
    assert "GOOD.XNAS" not in listed  # a file with one bad instrument adds none of them
    for instrument_id in ("AAPL.XNAS", "MSFT.XNAS"):
        # instrument, class, currency, base, tick, size incr., venue
        row = cells(line_with(listed, instrument_id))
        assert row == [instrument_id, "equity", "USD", "-", "0.01", "1", "1", "-", "XNAS"]

    shown = ok(desk("instruments", "show", "AAPL.XNAS"))
    assert "AAPL.XNAS" in shown
    for field, value in [
        ("asset_class", "equity"),
        ("currency", "USD"),
        ("tick_size", "0.01"),
        ("size_increment", "1"),
        ("price_precision", "2"),
        ("size_precision", "0"),
    ]:
        assert cells(line_with(shown, f" {field} ")) == [field, value]


def test_ingest_catalog_and_lineage(desk: Desk, write_csv: WriteCsv, tmp_path: Path) -> None:
    added = desk(
        "instruments", "add", "--id", "ACME.XNAS", "--asset-class", "equity",
        "--currency", "USD", "--tick-size", "0.01",
    )  # fmt: skip
    assert ok(added).strip() == "ACME.XNAS: added"

    source = rows(30)
    clean = write_csv(source[:20], name="clean.csv")
    ingested = ok(desk("data", "ingest", "bars", clean, "--instrument", "ACME.XNAS"))
    # read, written, already there, rejected
    assert counts(ingested, "ACME.XNAS-1-MINUTE-LAST-EXTERNAL") == ["20", "20", "0", "0"]
    assert "Nothing new" not in ingested

    again = ok(desk("data", "ingest", "bars", clean, "--instrument", "ACME.XNAS"))
    assert "Nothing new" in again
    assert counts(again, "ACME.XNAS-1-MINUTE-LAST-EXTERNAL") == ["20", "0", "20", "0"]

    # ten later bars, four of them broken in four different ways (CSV lines: header is 1)
    later = [list(r) for r in source[20:]]
    later[1][0] = "not-a-time"  # line 3
    later[3][1] = "abc"  # line 5
    later[5][2] = "99.00"  # line 7: high below open
    later[7][1] = f"{float(later[7][1]) + 0.001:.3f}"  # line 9: a tenth of a cent
    partial = write_csv(later, name="partial.csv")
    mixed = ok(desk("data", "ingest", "bars", partial, "--instrument", "ACME.XNAS"))
    assert counts(mixed, "ACME.XNAS-1-MINUTE-LAST-EXTERNAL") == ["10", "6", "0", "4"]
    assert "Rejected rows by reason" in mixed
    for reason in (
        "timestamp_unparseable",
        "value_not_a_number",
        "ohlc_inconsistent",
        "price_precision",
    ):
        assert cells(line_with(mixed, reason)) == [reason, "1"]
    [rejects] = list((desk.home / "ingest").glob("*/rejects.csv"))
    assert flat(str(rejects)) in flat(mixed)
    with rejects.open(newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == ["row", "field", "value", "reason", "detail"]
    assert [(r[0], r[1], r[2], r[3]) for r in table[1:]] == [
        ("3", "timestamp", "not-a-time", "timestamp_unparseable"),
        ("5", "open", "abc", "value_not_a_number"),
        ("7", "high", "99.00", "ohlc_inconsistent"),
        ("9", "open", later[7][1], "price_precision"),
    ]

    hopeless = write_csv([["2024-01-02T00:00:00Z", "x", "x", "x", "x", "1"]] * 3, name="bad.csv")
    refused = desk("data", "ingest", "bars", hopeless, "--instrument", "ACME.XNAS")
    assert refused.returncode == 3, refused
    assert "error:" in refused.stderr
    assert "none of 3 rows is valid" in refused.stderr
    all_rejects = {p.parent.name: p for p in (desk.home / "ingest").glob("*/rejects.csv")}
    [new_rejects] = [p for p in all_rejects.values() if p != rejects]
    assert flat(str(new_rejects)) in flat(refused.stderr)

    missing = tmp_path / "no-such-bars.csv"
    absent = desk("data", "ingest", "bars", missing, "--instrument", "ACME.XNAS")
    assert absent.returncode == 2, absent
    assert "error:" in absent.stderr
    assert flat(f"{missing}: no such file") in flat(absent.stderr)

    unknown = desk("data", "ingest", "bars", clean, "--instrument", "NOPE.XNAS")
    assert unknown.returncode == 2, unknown
    assert "unknown instrument 'NOPE.XNAS'" in unknown.stderr
    assert "ACME.XNAS" in unknown.stderr  # the instruments it does know
    assert "quantdesk instruments add" in unknown.stderr

    lineage = ok(desk("data", "lineage", "--json"))
    records = [json.loads(line) for line in lineage.splitlines()]
    assert [(r["source_sha256"], r["rows_written"]) for r in records] == [
        (sha256(clean), 20),
        (sha256(partial), 6),
    ]
    assert [r["source"] for r in records] == [str(clean.resolve()), str(partial.resolve())]
    assert {r["instrument_id"] for r in records} == {"ACME.XNAS"}

    synth = ok(desk("data", "synth", "--instruments", "2", "--days", "1", "--seed", "3"))
    for instrument_id in ("SYN01.SIM", "SYN02.SIM"):
        assert counts(synth, f"{instrument_id}-1-MINUTE") == ["1,440", "1,440", "0", "0"]

    catalog = ok(desk("data", "list"))  # instrument, data type, series, first, last, count
    assert cells(line_with(catalog, "ACME.XNAS-1-MINUTE-LAST-EXTERNAL"))[:6] == [
        "ACME.XNAS",
        "bar",
        "ACME.XNAS-1-MINUTE-LAST-EXTERNAL",
        "2024-01-01 00:01:00",
        "2024-01-01 00:30:00",
        "26",
    ]
    for instrument_id in ("SYN01.SIM", "SYN02.SIM"):
        row = cells(line_with(catalog, f"{instrument_id}-1-MINUTE"))
        assert (row[0], row[5]) == (instrument_id, "1,440")


def test_ingest_edge_cases_are_reported_not_crashed(desk: Desk, write_csv: WriteCsv) -> None:
    ok(
        desk(
            "instruments", "add", "--id", "ACME.XNAS", "--asset-class", "equity",
            "--currency", "USD", "--tick-size", "0.01",
        )
    )  # fmt: skip
    good, later = rows(2)
    source = [
        good,
        ["2262-04-11T00:00:00Z", *good[1:]],  # past the valid range once shifted to the close
        [later[0], later[1], "1e20", *later[3:]],  # past the engine's PRICE_MAX
    ]
    result = desk(
        "data", "ingest", "bars", write_csv(source), "--instrument", "ACME.XNAS",
        "--timestamp-at", "open", "--json",
    )  # fmt: skip
    summary = json.loads(ok(result))
    assert summary["rejected_by_reason"] == {"timestamp_out_of_range": 1, "value_too_large": 1}
    assert summary["rows_written"] == 1

    no_qty = desk(
        "data", "ingest", "bars", write_csv([good]), "--instrument", "ACME.XNAS",
        "--volume-col", "qty", "--default-volume", "5",
    )  # fmt: skip
    assert no_qty.returncode == 2, no_qty
    assert "no volume column 'qty'" in no_qty.stderr
    assert "'volume'" in no_qty.stderr  # the file's own columns are listed
    assert "Traceback" not in no_qty.stderr

    late = desk("data", "synth", "--start", "2262-04-11", "--days", "1", "--instruments", "1")
    assert late.returncode == 2, late
    assert "valid time range" in late.stderr
    assert "Traceback" not in late.stderr
    assert "SYN01" not in ok(desk("data", "list"))


@pytest.mark.shared_data
def test_real_btc_perpetual_file_ingests_cleanly(desk: Desk) -> None:
    data = shared_file("btc-perp-20211231-20220201_1m.csv")
    added = ok(desk("instruments", "add", EXAMPLES / "shared-data.yaml"))
    assert "BTCUSDT-PERP.BINANCE: added" in added
    result = desk(
        "data", "ingest", "bars", data, "--instrument", "BTCUSDT-PERP.BINANCE",
        "--assume-utc", "--timestamp-at", "open", "--json",
    )  # fmt: skip
    summary = json.loads(ok(result))
    assert summary["rows_read"] == 45_031
    assert summary["rows_rejected"] == 0
    assert summary["rows_written"] == 45_031
    assert summary["rows_rounded"] == 0
    assert summary["bar_type"] == "BTCUSDT-PERP.BINANCE-1-MINUTE-LAST-EXTERNAL"


def test_backtest_run_list_show_compare_report(desk: Desk) -> None:
    ok(desk("data", "synth", "--instruments", "2", "--days", "2", "--seed", "5"))
    args = [
        "backtest",
        "run",
        "--strategy",
        "ema_cross",
        "--param",
        "fast=5",
        "--param",
        "slow=20",
        "--instrument",
        "SYN01.SIM",
        "--instrument",
        "SYN02.SIM",
        "--label",
        "e2e",
    ]
    first = ok(desk(*args))
    assert "ema_cross-syn01@1" in first and "ema_cross-syn02@1" in first  # registered versions
    assert "Strategies" in first and "ema_cross-syn01@1-" in first  # and their engine ids
    assert "fingerprint" in first
    report = Path(flat(first).split("report:")[1].strip())
    assert report.is_file() and report.name == "report.html"
    second = ok(desk(*args, "--json"))
    second_id = json.loads(second)["run_id"]
    first_id = report.parent.name
    listing = ok(desk("runs", "list"))
    assert first_id in listing and second_id in listing and "e2e" in listing
    shown = ok(desk("runs", "show", first_id[:26]))
    assert "max drawdown" in shown and first_id in shown
    compared = ok(desk("runs", "compare", first_id, second_id))
    assert "identical" in line_with(compared, "fills")
    assert "same" in line_with(compared, "fingerprint")
    assert flat(ok(desk("runs", "report", first_id))) == str(report)


def test_backtest_errors_are_clear(desk: Desk) -> None:
    ok(desk("data", "synth", "--instruments", "1", "--days", "1", "--seed", "5"))
    base = ["backtest", "run", "--strategy", "ema_cross", "--instrument", "SYN01.SIM"]
    bad_param = desk(*base, "--param", "fats=3")
    assert bad_param.returncode == 2
    assert "--param fats: unknown field" in " ".join(bad_param.stderr.split())
    out_of_range = desk(*base, "--start", "2030-01-01")
    assert out_of_range.returncode == 2
    assert "the catalog holds SYN01.SIM from 2024-01-01 00:01:00" in " ".join(
        out_of_range.stderr.split()
    )
    missing = desk("backtest", "run", "--strategy", "ema_cross")
    assert missing.returncode == 2 and "--instrument" in missing.stderr
    unknown_run = desk("runs", "show", "nope")
    assert unknown_run.returncode == 2 and "runs list" in unknown_run.stderr


def test_backtest_on_sentiment_signals(desk: Desk) -> None:
    """--signals: a clear error while the buffer is empty, then a traced run, shown again."""
    ok(desk("data", "synth", "--instruments", "1", "--days", "1", "--seed", "4"))
    args = ["backtest", "run", "--strategy", "sentiment_reaction", "--instrument", "SYN01.SIM"]
    args += ["--param", "entry_threshold=0.2", "--param", "min_confidence=0", "--signals"]
    args += ["SENTIMENT"]
    empty = desk(*args)
    assert empty.returncode == 2
    assert "no SENTIMENT signals for SYN01.SIM" in " ".join(empty.stderr.split())
    headlines = Path(__file__).resolve().parents[2] / "examples" / "signals" / "headlines.csv"
    produced = desk.home / "sentiment.jsonl"
    ok(
        desk(
            "signals",
            "produce",
            "sentiment",
            "--instrument",
            "SYN01.SIM",
            "--headlines",
            headlines,
            "--out",
            produced,
        )
    )
    ok(desk("signals", "ingest", produced))
    result = json.loads(ok(desk(*args, "--json")))
    provenance = result["provenance"]
    assert provenance["fills_on_signals"] == result["facts"]["fills"] > 0
    assert provenance["fills_without_signal"] == 0
    shown = flat(ok(desk("runs", "show", result["run_id"])))
    assert f"{provenance['signals_acted_on']}actedon" in shown  # flat() drops spaces
    assert provenance["traces"][0]["signal_id"][:8] in shown
