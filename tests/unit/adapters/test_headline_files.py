"""Headline files: a hostile line stops the read naming its line and reason, never a crash."""

import json
from pathlib import Path

import pytest

from quantdesk.adapters.sources.headline_files import HeadlineFileSource
from quantdesk.domain.errors import SourceReadError

GOOD = {"timestamp": "2024-01-01T09:30:00Z", "instrument": "ACME.XNAS", "text": "Acme up"}


def refusal(tmp_path: Path, data: bytes, name: str = "news.jsonl") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(SourceReadError) as refused:
        HeadlineFileSource().read_headlines(path)
    return refused.value.message.removeprefix(f"{path}:")


def lines(*extra: bytes) -> bytes:
    return b"\n".join([json.dumps(GOOD).encode(), *extra]) + b"\n"


@pytest.mark.parametrize(
    ("line", "start"),
    [
        (b'{"text": "caf\xe9"}', "2: not_utf8: line 2 is not UTF-8 text: bytes b'\\xe9\"}'"),
        (b"[" * 100_000 + b"]" * 100_000, "2: line_too_long: line 2 has 200000 bytes"),
        (b"[" * 30_000 + b"]" * 30_000, "2: nesting_too_deep: "),
        (b'{"timestamp": ' + b"1" * 5000 + b"}", "2: number_too_long: "),
        (b'{"a": NaN}', "2: not_json: "),
    ],
)
def test_hostile_json_lines_are_named(tmp_path: Path, line: bytes, start: str) -> None:
    assert refusal(tmp_path, lines(line)).startswith(start)


def test_csv_not_utf8_names_the_line(tmp_path: Path) -> None:
    data = b"timestamp,instrument,text\n2024-01-01T09:30:00Z,ACME.XNAS,caf\xe9\n"
    message = refusal(tmp_path, data, "news.csv")
    assert message == "2: not_utf8: the line is not UTF-8 text: bytes b'\\xe9\\n'"


@pytest.mark.parametrize("stamp", ["²", "9" * 5000, 10**30, -5, "1960-01-01T00:00:00Z"])
def test_odd_timestamps_are_named(tmp_path: Path, stamp: object) -> None:
    message = refusal(tmp_path, lines(json.dumps({**GOOD, "timestamp": stamp}).encode()))
    assert message.startswith("2: timestamp ")


def test_a_good_file_reads(tmp_path: Path) -> None:
    path = tmp_path / "news.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + lines(json.dumps({**GOOD, "timestamp": 1}).encode()))
    feed = HeadlineFileSource().read_headlines(path)
    assert [h.ts_ns for h in feed.headlines] == [1, 1_704_101_400_000_000_000]
