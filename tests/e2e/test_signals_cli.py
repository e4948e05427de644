"""``quantdesk signals`` as a user types it: ingest, list, show, stats, dead letters."""

import asyncio
import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from quantdesk.bootstrap import bootstrap
from quantdesk.cli.app import create_cli
from quantdesk.domain.signal_routing import SignalEnvelope
from quantdesk.services.signal_routing import dead_letter
from support.signals import NOW_NS, raw_signal

JSON_COLUMNS = ("value", "provenance", "metadata")


class Cli:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.app = create_cli(lambda home: bootstrap(home=home))

    def __call__(self, *args: str | Path) -> Result:
        return CliRunner().invoke(self.app, ["--home", str(self.home), *map(str, args)])


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    made = Cli(tmp_path / "home")
    for instrument in ("ACME.XNAS", "BTCUSDT.BINANCE"):
        result = made(
            "instruments", "add", "--id", instrument, "--asset-class", "equity",
            "--currency", "USD", "--tick-size", "0.01",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    return made


def _rows() -> list[dict[str, object]]:
    base = NOW_NS - 3_600_000_000_000
    return [
        raw_signal("SENTIMENT", "ACME.XNAS", ts_event=base),
        raw_signal("REGIME_PREDICTION", "ACME.XNAS", ts_event=base + 60_000_000_000),
        raw_signal("VOLATILITY_FORECAST", "BTCUSDT.BINANCE", ts_event=base + 120_000_000_000),
    ]


def test_ingest_list_show_stats(cli: Cli, tmp_path: Path) -> None:
    rows = _rows()
    bad = [
        raw_signal(confidence=1.5),
        raw_signal(instrument_id="NOPE.XNAS"),
        {**rows[0]},  # the same id twice in one file
    ]
    path = tmp_path / "signals.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [*rows, *bad]) + "\n{oops\n")
    result = cli("signals", "ingest", path)
    assert result.exit_code == 0, result.output
    assert "bad_confidence x1" in result.output and "duplicate_id x1" in result.output
    assert "not_json x1" in result.output and "unknown_instrument x1" in result.output
    rejects = next((cli.home / "signals" / "rejects").glob("*.jsonl"))
    reasons = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["row"], r["reason"]) for r in reasons] == [
        (4, "bad_confidence"),
        (5, "unknown_instrument"),
        (6, "duplicate_id"),
        (7, "not_json"),
    ]
    assert reasons[0]["field"] == "confidence" and reasons[0]["value"] == "1.5"

    again = cli("signals", "ingest", path)  # everything is there already: nothing new
    assert again.exit_code == 0, again.output
    said = " ".join(again.output.split())  # the console may wrap a long tmp path's line
    assert "nothing new" in said and "4 signal(s) already buffered" in said
    assert "3 record(s) rejected by an earlier ingest" in said
    counted = _rejected_counts(cli)
    assert cli("signals", "ingest", path).exit_code == 0
    assert _rejected_counts(cli) == counted  # a third read adds no reject either
    assert counted["bad_confidence"] == counted["unknown_instrument"] == 1

    listed = cli("signals", "list")
    assert listed.exit_code == 0 and all(r["signal_id"] in listed.output for r in rows)
    only = cli("signals", "list", "--type", "regime_prediction", "--instrument", "ACME.XNAS")
    assert rows[1]["signal_id"] in only.output and rows[0]["signal_id"] not in only.output
    assert cli("signals", "list", "--type", "NEWS").exit_code == 2

    shown = cli("signals", "show", str(rows[2]["signal_id"]))
    assert shown.exit_code == 0
    assert json.loads(shown.output)["value"]["annualized_volatility"] == 0.2
    missing = cli("signals", "show", "nope")
    assert missing.exit_code == 2 and "no signal" in missing.output

    stats = cli("signals", "stats")
    assert stats.exit_code == 0
    sentiment = next(line for line in stats.output.splitlines() if "SENTIMENT" in line)
    cells = [c.strip() for c in sentiment.split("│")[1:-1]]
    assert cells[:3] == ["SENTIMENT", "test-model", "1"]
    assert "duplicate_id" in stats.output


def test_ingesting_the_same_file_again_changes_nothing_and_succeeds(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "signals.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in _rows()) + "\n")
    assert cli("signals", "ingest", path).exit_code == 0
    again = cli("signals", "ingest", path)
    assert again.exit_code == 0, again.output
    assert "nothing new" in again.output and "3 signal(s) already buffered" in again.output
    stats = cli("signals", "stats")
    assert "duplicate_id" in stats.output  # still counted, still kept for review


def test_csv_and_parquet_layouts(cli: Cli, tmp_path: Path) -> None:
    rows = _rows()
    flat = [{k: json.dumps(v) if k in JSON_COLUMNS else v for k, v in row.items()} for row in rows]
    with (tmp_path / "s.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(flat[0]))
        writer.writeheader()
        writer.writerows(flat[:2])
    pq.write_table(pa.Table.from_pylist(flat[2:]), tmp_path / "s.parquet")
    assert cli("signals", "ingest", tmp_path / "s.csv").exit_code == 0
    result = cli("signals", "ingest", tmp_path / "s.parquet", "--json")
    assert result.exit_code == 0 and json.loads(result.output)["accepted"] == 1
    assert cli("signals", "list").output.count("test-model") == 3


def test_unreadable_and_empty_inputs(cli: Cli, tmp_path: Path) -> None:
    assert cli("signals", "ingest", tmp_path / "absent.jsonl").exit_code == 2
    (tmp_path / "x.txt").write_text("hello")
    assert cli("signals", "ingest", tmp_path / "x.txt").exit_code == 2
    (tmp_path / "empty.jsonl").write_text("")
    assert cli("signals", "ingest", tmp_path / "empty.jsonl").exit_code == 3


def test_dead_letters_list_and_replay(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps(_rows()[0]) + "\n")
    assert cli("signals", "ingest", path).exit_code == 0
    desk = bootstrap(home=cli.home)
    sig = desk.signals.show(json.loads(path.read_text())["signal_id"])
    router = desk.signal_router
    dead_letter(
        SignalEnvelope(sig, "strategy-x", "corr-9", NOW_NS),
        "RuntimeError: boom",
        5,
        router._dead_letters,
        router.ledger,
        router._events,
        lambda: NOW_NS,
    )
    listed = cli("signals", "dlq", "list")
    assert listed.exit_code == 0 and "strategy-x" in listed.output and "boom" in listed.output
    assert cli("signals", "dlq", "replay").exit_code == 2  # neither ids nor --all
    refused = cli("signals", "dlq", "replay", "--all")  # in-process bus: nobody to receive
    assert refused.exit_code == 2 and "QUANTDESK_REDIS_URL" in refused.output
    stats = cli("signals", "stats")
    assert "│ 1 " in stats.output.split("SENTIMENT")[1].splitlines()[0]
    asyncio.run(router.bus.close())


def _rejected_counts(cli: Cli) -> dict[str, int]:
    desk = bootstrap(home=cli.home)
    totals: dict[str, int] = {}
    for row in desk.signals.stats():
        for reason, n in row.rejected.items():
            totals[reason] = totals.get(reason, 0) + n
    return totals


def test_re_ingesting_only_bad_lines_is_nothing_new(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(raw_signal(confidence=2.0)) + "\n")
    first = cli("signals", "ingest", path)
    assert first.exit_code == 3 and "bad_confidence" in first.output
    again = cli("signals", "ingest", path)
    assert again.exit_code == 0, again.output
    assert "1 record(s) rejected by an earlier ingest" in again.output
    assert _rejected_counts(cli) == {"bad_confidence": 1}


TS_2_63 = 2**63


def test_a_timestamp_past_int64_is_rejected_in_every_layout_and_bricks_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    good = _rows()
    huge = raw_signal(ts_event=NOW_NS - 10**9)
    huge["ts_init"] = TS_2_63
    jsonl = tmp_path / "s.jsonl"
    jsonl.write_text(json.dumps(huge) + "\n" + json.dumps(good[0]) + "\n")
    flat = [
        {k: json.dumps(v) if k in JSON_COLUMNS else v for k, v in row.items()}
        for row in (raw_signal(ts_event=NOW_NS - 10**9, lag_ns=TS_2_63), good[1])
    ]
    with (tmp_path / "s.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(flat[0]))
        writer.writeheader()
        writer.writerows(flat)
    big = raw_signal(ts_event=NOW_NS - 10**9)
    big["ts_init"] = TS_2_63 + 5
    rows = [
        {k: json.dumps(v) if k in JSON_COLUMNS else v for k, v in row.items()}
        for row in (big, good[2])
    ]
    stamps = pa.array([r.pop("ts_init") for r in rows], pa.uint64())
    table = pa.Table.from_pylist(rows).append_column("ts_init", stamps)
    pq.write_table(table, tmp_path / "s.parquet")
    for name in ("s.jsonl", "s.csv", "s.parquet"):
        result = cli("signals", "ingest", tmp_path / name)
        assert result.exit_code == 0, result.output
        assert "ts_out_of_range x1" in result.output, result.output
    for command in (("list",), ("stats",), ("show", str(good[0]["signal_id"]))):
        shown = cli("signals", *command)
        assert shown.exit_code == 0, shown.output
    listed = cli("signals", "list").output
    assert all(str(r["signal_id"]) in listed for r in good)
    assert _rejected_counts(cli) == {"ts_out_of_range": 3}
    fresh = tmp_path / "later.jsonl"
    later = raw_signal(ts_event=NOW_NS)
    fresh.write_text(json.dumps(later) + "\n")
    assert cli("signals", "ingest", fresh).exit_code == 0  # later ingests still flush
    assert str(later["signal_id"]) in cli("signals", "list").output


def test_one_uuid_in_any_spelling_is_buffered_once(cli: Cli, tmp_path: Path) -> None:
    base = raw_signal()
    canonical = str(base["signal_id"])
    spellings = [
        canonical.upper(),
        "{" + canonical + "}",
        canonical.replace("-", ""),
        "urn:uuid:" + canonical,
    ]
    path = tmp_path / "ids.jsonl"
    path.write_text("".join(json.dumps({**base, "signal_id": s}) + "\n" for s in spellings))
    result = cli("signals", "ingest", path, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["accepted"] == 1 and summary["rejected_by_reason"] == {"duplicate_id": 3}
    desk = bootstrap(home=cli.home)
    assert [s.signal_id for s in desk.signals.list()] == [canonical]
    assert cli("signals", "show", spellings[0]).exit_code == 0  # found by any spelling
