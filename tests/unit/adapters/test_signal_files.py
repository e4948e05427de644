"""Signal files: every line judged alone; a hostile line is that line's reject, never a crash."""

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantdesk.adapters.sources.line_files import json_lines
from quantdesk.adapters.sources.signal_files import SignalFileSource
from quantdesk.domain.documents import LIMIT_REASONS, DocumentLimits
from quantdesk.services.ports import SignalRecord
from support.signals import raw_signal

DEEP = ("[" * 100_000 + "]" * 100_000).encode()  # 200 KB: over the line limit
DEEP_SHORT = ("[" * 30_000 + "]" * 30_000).encode()  # 60 KB: within it, too deep
HUGE_INT = b'{"ts_event": ' + b"7" * 5000 + b"}"


def good_line() -> bytes:
    return json.dumps(raw_signal()).encode()


def read(tmp_path: Path, data: bytes, suffix: str = ".jsonl", **limits: int) -> list[SignalRecord]:
    path = tmp_path / f"signals{suffix}"
    path.write_bytes(data)
    return SignalFileSource(DocumentLimits(**limits)).read_signals(path)


def test_hostile_lines_are_rejected_one_by_one_and_the_rest_kept(tmp_path: Path) -> None:
    good = [good_line() for _ in range(3)]
    lines = [good[0], b'{"note": "caf\xe9 \xff\xfe"}', good[1], DEEP, HUGE_INT, good[2], DEEP_SHORT]
    records = read(tmp_path, b"\n".join(lines) + b"\n")
    assert [r.row for r in records] == [1, 2, 3, 4, 5, 6, 7]
    assert [r.raw for r in records if r.raw is not None] == [json.loads(g) for g in good]
    assert [r.raw_text for r in records if r.raw is not None] == [g.decode() for g in good]
    bad = {r.row: r for r in records if r.raw is None}
    assert (
        bad[2].error
        == "not_utf8: line 2 is not UTF-8 text: bytes b'\\xe9 \\xff\\xfe\"}' at offset 13"
    )
    assert bad[2].raw_text == '{"note": "caf\\xe9 \\xff\\xfe"}'
    assert bad[4].error == (
        "line_too_long: line 4 has 200000 bytes, over the limit of 65536: not parsed"
    )
    assert bad[7].error == "nesting_too_deep: the document nests deeper than 32 levels"
    assert bad[5].error is not None and bad[5].error.startswith("number_too_long: ")
    assert all(r.error_field == "record" for r in bad.values())


def test_a_line_over_the_limit_is_not_parsed(tmp_path: Path) -> None:
    long_line = b'{"x": "' + b"a" * 5000 + b'"}'
    records = read(
        tmp_path, good_line() + b"\n" + long_line + b"\r\n" + good_line(), max_line_bytes=1000
    )
    assert [r.raw is not None for r in records] == [True, False, True]
    assert records[1].error == (
        "line_too_long: line 2 has 5009 bytes, over the limit of 1000: not parsed"
    )
    assert len(records[1].raw_text) <= 200


def test_line_limit_counts_the_content_not_the_line_end() -> None:
    limits = DocumentLimits(max_line_bytes=7)
    lines = list(json_lines(io.BytesIO(b'"abcde"\r\n"abcdef"\n"abc"'), limits))
    assert [(line.number, line.value, line.error and line.error.reason) for line in lines] == [
        (1, "abcde", None),
        (2, None, "line_too_long"),
        (3, "abc", None),
    ]


def test_a_bom_and_blank_lines_are_not_records(tmp_path: Path) -> None:
    records = read(tmp_path, b"\xef\xbb\xbf" + good_line() + b"\n\n   \n" + good_line())
    assert [(r.row, r.error) for r in records] == [(1, None), (4, None)]


def test_csv_rows_are_decoded_alone(tmp_path: Path) -> None:
    header = ["signal_id", "signal_type", "instrument_id", "ts_event", "ts_init", "confidence",
              "source_model", "value"]  # fmt: skip
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for value in ('{"score": 0.1}', "VALUE", json.dumps([[[[[[[[1]]]]]]]]), '{"score": 0.3}'):
        row = raw_signal()
        writer.writerow([row[k] if k != "value" else value for k in header])
    data = out.getvalue().encode().replace(b"VALUE", b"\xff\xfe")
    records = read(tmp_path, data, suffix=".csv", max_depth=4)
    assert [r.row for r in records] == [2, 3, 4, 5]
    assert [r.raw is not None for r in records] == [True, False, False, True]
    assert records[1].error == "not_utf8: row 3 is not UTF-8 text: bytes b'\\xff\\xfe' in value"
    assert records[1].error_field == "value"
    assert json.loads(records[1].raw_text)["value"] == "\\xff\\xfe"
    assert records[2].error is not None and records[2].error.startswith("nesting_too_deep: ")
    assert records[2].error_field == "value"


def test_csv_timestamps_of_thousands_of_digits_stay_text_for_validation(tmp_path: Path) -> None:
    row = raw_signal()
    data = "ts_event,ts_init,signal_id\n" + "9" * 5000 + f",²,{row['signal_id']}\n"
    [record] = read(tmp_path, data.encode(), suffix=".csv")
    assert record.raw is not None
    assert record.raw["ts_event"] == "9" * 5000 and record.raw["ts_init"] == "²"


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
# Property: any bytes as a signal file give records (or a read error), never another exception.
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_random_bytes_give_records(tmp_path: Path, suffix: str, data: bytes) -> None:
    from quantdesk.domain.errors import SourceReadError

    try:
        records = read(tmp_path, data, suffix=suffix, max_line_bytes=100)
    except SourceReadError:
        assert suffix == ".csv"  # a header that is not UTF-8 or a CSV error: the file is refused
        return
    for record in records:
        if record.raw is None and record.error and ":" in record.error:
            code = record.error.split(":")[0]
            assert code in LIMIT_REASONS or record.error == "a signal line must be a JSON object"
        record.raw_text.encode("utf-8")  # storable as the reject's text


def test_a_csv_row_the_splitter_refuses_is_rejected_alone(tmp_path: Path) -> None:
    header = "signal_id,signal_type,value\n"
    data = header + "a,SENTIMENT,1\n" + "b,SENTIMENT," + "x" * 200_000 + "\nc,SENTIMENT,3\n"
    records = read(tmp_path, data.encode(), suffix=".csv")
    assert [(r.row, r.raw is not None) for r in records] == [(2, True), (3, False), (4, True)]
    assert records[1].error == "malformed CSV row: field larger than field limit (131072)"
    assert records[2].raw is not None and records[2].raw["signal_id"] == "c"
