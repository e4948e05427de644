"""``quantdesk data ingest trades | quotes | deltas`` as a user types it, on examples/ticks."""

import json
import subprocess
from pathlib import Path

from support.console import executable, script_env

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ticks"
INSTRUMENT = "BTC/USDT.BINANCE"


def quantdesk(home: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [executable(), "--home", str(home), *(str(a) for a in args)],
        capture_output=True,
        text=True,
        env=script_env(),
        timeout=300,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_tick_examples_ingest_list_and_reingest(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ok(quantdesk(home, "instruments", "add", EXAMPLES / "instrument.yaml"))
    trades = json.loads(
        ok(
            quantdesk(
                home,
                "data",
                "ingest",
                "trades",
                EXAMPLES / "trades.csv",
                "--instrument",
                INSTRUMENT,
                "--json",
            )
        )
    )
    assert (trades["rows_written"], trades["rejected_by_reason"]) == (
        6,
        {"duplicate_trade": 1, "size_not_positive": 1},
    )
    quotes = ok(
        quantdesk(
            home, "data", "ingest", "quotes", EXAMPLES / "quotes.csv", "--instrument", INSTRUMENT
        )
    )
    assert "crossed_quote" in quotes and "size_negative" in quotes and "rejects.csv" in quotes
    deltas = json.loads(
        ok(
            quantdesk(
                home,
                "data",
                "ingest",
                "deltas",
                EXAMPLES / "deltas.csv",
                "--instrument",
                INSTRUMENT,
                "--json",
            )
        )
    )
    assert deltas["rows_written"] == 10
    assert deltas["rejected_by_reason"] == {"action_invalid": 1, "size_not_positive": 1}
    assert deltas["warnings_by_kind"] == {"crossed_book": 1}
    listing = ok(quantdesk(home, "data", "list"))
    for kind in ("trade_tick", "quote_tick", "order_book_delta"):
        assert kind in listing
    again = ok(
        quantdesk(
            home, "data", "ingest", "deltas", EXAMPLES / "deltas.csv", "--instrument", INSTRUMENT
        )
    )
    assert "Nothing new" in again


def test_tick_ingest_exit_codes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ok(quantdesk(home, "instruments", "add", EXAMPLES / "instrument.yaml"))
    missing = quantdesk(
        home, "data", "ingest", "trades", EXAMPLES / "quotes.csv", "--instrument", INSTRUMENT
    )
    assert missing.returncode == 2 and "no price column" in missing.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,bid,ask,bid_size,ask_size\nnot-a-time,1,2,1,1\n")
    nothing = quantdesk(home, "data", "ingest", "quotes", bad, "--instrument", INSTRUMENT)
    assert nothing.returncode == 3 and "timestamp_unparseable" in nothing.stderr
    mapping = quantdesk(
        home, "data", "ingest", "quotes", bad, "--instrument", INSTRUMENT, "--column", "volume=v"
    )
    assert mapping.returncode == 2 and "no field 'volume'" in mapping.stderr
