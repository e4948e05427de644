"""Signal ingest across real processes: concurrent ingests of one file, a SIGKILL mid-ingest."""

import json
import multiprocessing
import os
import subprocess
import sys
from decimal import Decimal
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from quantdesk.adapters.sources.signal_files import SignalFileSource
from quantdesk.bootstrap import bootstrap
from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.signal_routing import SignalIngestSummary
from quantdesk.services.ports import SignalRecord
from support.signals import NOW_NS, raw_signal

WRITERS = 4


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    spec = InstrumentSpec(
        instrument_id="ACME.XNAS", asset_class="equity", currency="USD", tick_size=Decimal("0.01")
    )
    bootstrap(home=home).instruments.add(spec)
    return home


def _signal_file(tmp_path: Path, good: int, bad: int) -> tuple[Path, list[str]]:
    rows = [raw_signal(ts_event=NOW_NS - 10**12 + i * 10**9) for i in range(good)]
    rows += [raw_signal(confidence=7.0) for _ in range(bad)]
    path = tmp_path / "signals.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path, [str(r["signal_id"]) for r in rows[:good]]


def _ingest_after_barrier(
    home: Path, path: Path, barrier: Barrier, results: "multiprocessing.Queue[object]"
) -> None:
    read = SignalFileSource.read_signals

    def read_then_wait(self: SignalFileSource, p: Path) -> list[SignalRecord]:
        records = read(self, p)
        barrier.wait()  # every writer has read the file; now all of them ingest at once
        return records

    SignalFileSource.read_signals = read_then_wait  # type: ignore[method-assign]
    try:
        results.put(bootstrap(home=home).signals.ingest_file(path))
    except Exception as error:  # reported to the test, never swallowed
        results.put(repr(error))


def test_concurrent_ingests_of_one_file_accept_each_signal_once(tmp_path: Path) -> None:
    home = _home(tmp_path)
    path, ids = _signal_file(tmp_path, good=20, bad=2)
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(WRITERS)
    results: multiprocessing.Queue[object] = context.Queue()
    workers = [
        context.Process(target=_ingest_after_barrier, args=(home, path, barrier, results))
        for _ in range(WRITERS)
    ]
    for worker in workers:
        worker.start()
    summaries = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert all(isinstance(s, SignalIngestSummary) for s in summaries), summaries
    done = [s for s in summaries if isinstance(s, SignalIngestSummary)]
    assert sorted(s.accepted for s in done) == [0, 0, 0, 20]
    assert all(s.already_buffered == 20 for s in done if s.accepted == 0)
    desk = bootstrap(home=home)
    assert sorted(s.signal_id for s in desk.signals.list(limit=None)) == sorted(ids)
    rows = desk.signals.stats()
    assert sum(r.accepted for r in rows) == 20
    assert sum(r.rejected.get("bad_confidence", 0) for r in rows) == 2  # once, not four times


CRASH_AT_FLUSH = """
import os, signal, sys
from quantdesk.adapters.nautilus.signal_store import ParquetSignalStore
from quantdesk.bootstrap import bootstrap

def killed(self):
    os.kill(os.getpid(), signal.SIGKILL)  # the accepted journal is written; flush is next

ParquetSignalStore.flush = killed
bootstrap(home=sys.argv[1]).signals.ingest_file(sys.argv[2])
"""


def test_a_sigkill_mid_ingest_keeps_the_rejects_with_the_accepted(tmp_path: Path) -> None:
    home = _home(tmp_path)
    path, ids = _signal_file(tmp_path, good=5, bad=3)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    crashed = subprocess.run(
        [sys.executable, "-c", CRASH_AT_FLUSH, str(home), str(path)],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert crashed.returncode == -9, crashed.stderr.decode()[-2000:]
    desk = bootstrap(home=home)
    rows = desk.signals.stats()
    assert sum(r.accepted for r in rows) == 5  # the journal survived the kill
    assert sum(r.rejected.get("bad_confidence", 0) for r in rows) == 3  # and so did the rejects
    again = desk.signals.ingest_file(path)  # running it again completes nothing twice
    assert (again.accepted, again.already_buffered, again.already_rejected) == (0, 5, 3)
    assert sum(r.rejected.get("bad_confidence", 0) for r in desk.signals.stats()) == 3
    assert sorted(s.signal_id for s in desk.signals.list(limit=None)) == sorted(ids)


@pytest.fixture(autouse=True)
def _no_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUANTDESK_REDIS_URL", raising=False)
