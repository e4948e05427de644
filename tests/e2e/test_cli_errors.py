"""The installed ``quantdesk`` script on inputs that cannot work: named errors, no traceback.

An unforeseen failure (exit 1, correlation id, logged traceback) has no trigger a user can
reach once inputs are validated; it is tested in process (tests/unit/cli/
test_unexpected_errors.py) with a factory that raises. Here: the home and the bar files.
"""

import hashlib
import io
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from support.console import executable, script_env

HEADER = "timestamp,open,high,low,close,volume\n"


def quantdesk(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [executable(), *map(str, args)],
        capture_output=True,
        text=True,
        env=script_env(),
        timeout=300,
        check=False,
    )


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert "panicked at" not in result.stdout + result.stderr, result.stderr
    assert "unexpected failure" not in result.stderr, result.stderr


def flat(text: str) -> str:
    return "".join(text.split())


def catalog_files(home: Path) -> dict[str, str]:
    catalog = home / "catalog"
    return {
        str(p.relative_to(catalog)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(catalog.rglob("*"))
        if p.is_file()
    }


def test_a_home_that_is_a_file_is_a_named_error(tmp_path: Path) -> None:
    home = tmp_path / "desk"
    home.write_text("not a directory")
    for args in (["data", "list"], ["strategy", "list"], ["runs", "list"]):
        result = quantdesk("--home", home, *args)
        assert result.returncode == 2, result.stderr
        assert flat(f"error: QUANTDESK_HOME {home} is a file, not a directory") in flat(
            result.stderr
        )
        no_traceback(result)
    assert home.read_text() == "not a directory"


def test_a_usage_error_is_clicks_own(tmp_path: Path) -> None:
    for args in (["data", "list", "--no-such-flag"], ["no-such-command"]):
        result = quantdesk("--home", tmp_path / "home", *args)
        assert result.returncode == 2
        assert "Usage:" in result.stderr
        no_traceback(result)


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


BAD_BAR_FILES = {
    "bars.csv": (
        b"timestamp,open,open,high,low,close,volume\n2024-01-03T00:02:00Z,1,1,2,0.5,1,1\n",
        "the open column 'open' appears 2 times (columns 2, 3)",
    ),
    "listed.parquet": (
        _list_timestamp_parquet(),
        "the timestamp column 'timestamp' has type list<element: int64>",
    ),
    "empty.csv": (b"", "empty file"),
    "empty.parquet": (b"", "cannot be read"),
    "text.parquet": (HEADER.encode(), "cannot be read"),
}


def test_unusable_bar_files_are_named_and_write_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    define = ["--id", "X.SIM", "--asset-class", "equity", "--currency", "USD"]
    added = quantdesk("--home", home, "instruments", "add", *define, "--tick-size", "0.01")
    assert added.returncode == 0, added.stderr
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "2024-01-03T00:01:00Z,100,101,99,100,10\n")
    ingested = quantdesk("--home", home, "data", "ingest", "bars", good, "--instrument", "X.SIM")
    assert ingested.returncode == 0, ingested.stderr
    before = catalog_files(home)
    assert before, "the good file should be in the catalog"
    for name, (content, message) in BAD_BAR_FILES.items():
        path = tmp_path / name
        path.write_bytes(content)
        result = quantdesk("--home", home, "data", "ingest", "bars", path, "--instrument", "X.SIM")
        assert result.returncode == 2, (name, result.stderr)
        assert result.stderr.startswith("error:"), (name, result.stderr)
        assert flat(f"{path}: {message}") in flat(result.stderr), (name, result.stderr)
        no_traceback(result)
        assert catalog_files(home) == before, name
