"""``signals ingest`` on a file with hostile lines: each is rejected with its reason, the
good lines are buffered (issue 12: item 7, and JSON lines within the document limits)."""

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from quantdesk.bootstrap import bootstrap
from quantdesk.cli.app import create_cli
from support.signals import raw_signal


def run(home: Path, *args: str | Path) -> Result:
    app = create_cli(lambda home: bootstrap(home=home))
    return CliRunner().invoke(app, ["--home", str(home), *map(str, args)])


def test_bad_lines_are_rejected_alone_and_good_ones_buffered(tmp_path: Path) -> None:
    home = tmp_path / "home"
    added = run(
        home, "instruments", "add", "--id", "ACME.XNAS", "--asset-class", "equity",
        "--currency", "USD", "--tick-size", "0.01",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    good = [raw_signal() for _ in range(3)]
    lines = [
        json.dumps(good[0]).encode(),
        json.dumps(raw_signal(source_model="mod\u00e8le")).encode().replace(b"\\u00e8", b"\xe8"),
        json.dumps(good[1]).encode(),
        b"[" * 30_000 + b"]" * 30_000,
        b'{"signal_id": ' + b"1" * 5000 + b"}",
        b"[" * 100_000 + b"]" * 100_000,
        json.dumps(good[2]).encode(),
    ]
    path = tmp_path / "signals.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = run(home, "signals", "ingest", path)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    listed = run(home, "signals", "list")
    assert all(str(g["signal_id"]) in listed.output for g in good)
    rejects = next((home / "signals" / "rejects").glob("*.jsonl"))
    kept = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["row"], r["reason"], r["detail"].split(":")[0]) for r in kept] == [
        (2, "not_utf8", "not_utf8"),
        (4, "nesting_too_deep", "nesting_too_deep"),
        (5, "number_too_long", "number_too_long"),
        (6, "line_too_long", "line_too_long"),
    ]
    assert kept[0]["detail"].startswith("not_utf8: line 2 is not UTF-8 text: bytes b'\\xe8")
    assert "\\xe8" in kept[0]["raw"]  # the line as read, bad byte escaped
