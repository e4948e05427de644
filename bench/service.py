"""Service latency under load: 50 clients polling while two backtests run, on loopback.

Goals (issue 14): request p99 < 50 ms; WebSocket event latency p99 < 100 ms.

    .venv/bin/python bench/service.py [--clients 50] [--interval 1.0] [--days 20]
        [--submissions 30] [--max-seconds 300] [--keep] [--no-save]

A real ``quantdesk serve`` (uvicorn, 2 job workers) on a free loopback port, over a fresh
home with a synthetic 1-minute market (``data synth``) and one registered EMA 10/50 strategy.
Then, all through the async Python client:

- ``submit``: ``--submissions`` backtest submissions one after another (POST /backtest:
  pinning the reference, storing the pending run, queueing its job), timed; the jobs are
  cancelled right after (they are not what is measured).
- ``polling``: two backtests over the whole market run while ``--clients`` clients each
  poll ``GET /jobs/{id}`` of one of them and ``GET /backtest?limit=20`` (the runs list)
  every ``--interval`` seconds, as a dashboard does, until both jobs finish: requests/s and
  the latency percentiles of every request. One WebSocket client subscribed to
  ``backtest_progress`` and ``job_update`` meanwhile: each event's latency from its
  ``at_ns`` (the server's publish time) to its arrival (same host, same clock).
- ``saturated``: the same with clients polling back to back (no pause): the most requests
  per second the server answers beside two running backtests, and what that costs in
  latency (a closed loop of N clients: mean latency = N / throughput).

Bounded: each load phase stops at ``--max-seconds``, and the server is stopped at the end
(SIGINT, then SIGKILL of its process group).
"""

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from quantdesk.api.schemas.backtest import BacktestCreate
from quantdesk.client import AsyncQuantdeskClient, QuantdeskApiError
from quantdesk.client.events import AsyncEventStream
from quantdesk.domain.events import EventType

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
STRATEGY = ROOT / "examples" / "strategies" / "trend_following.yaml"
SYNTH_START_NS = 1_704_067_200_000_000_000  # `data synth`'s default start, 2024-01-01T00:00Z
ADMIN_ANNOUNCEMENT = re.compile(r"one-time password:\s+(\S+)")
GOALS_MS = {"poll": 50.0, "ws": 100.0}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--days", type=int, default=20, help="synthetic market length")
    parser.add_argument("--submissions", type=int, default=30)
    parser.add_argument(
        "--interval", type=float, default=1.0, help="seconds between a client's polls"
    )
    parser.add_argument("--max-seconds", type=float, default=300.0, help="per load phase")
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    parser.add_argument("--no-save", action="store_true")
    return parser.parse_args(argv)


def percentiles(ns: list[int]) -> dict[str, float]:
    if not ns:
        return {"n": 0, "p50_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan")}
    ordered = sorted(ns)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6, 3)

    return {"n": len(ordered), "p50_ms": at(0.50), "p99_ms": at(0.99), "max_ms": at(1.0)}


def _die_with_parent() -> None:
    """The server gets SIGTERM when this process dies (Linux), so a killed bench leaves none."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Server:
    """``quantdesk serve`` in its own process group on a free loopback port."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {
            **os.environ,
            "QUANTDESK_HOME": str(home),
            "QUANTDESK_VALIDATION_SMOKE": "false",
            "QUANTDESK_JOB_WORKERS": "2",
        }
        for name in ("QUANTDESK_DATABASE_URL", "QUANTDESK_REDIS_URL"):
            self.env.pop(name, None)
        self.script = str(Path(sys.executable).parent / "quantdesk")
        self.process: subprocess.Popen[bytes] | None = None
        self.stderr = home.parent / "server.err"

    def synth(self, days: int) -> None:
        command = [self.script, "data", "synth", "--instruments", "1", "--days", str(days)]
        subprocess.run(command, env=self.env, check=True, capture_output=True, timeout=600)

    def start(self, timeout_s: float) -> tuple[str, str]:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        with self.stderr.open("wb") as err:
            self.process = subprocess.Popen(
                [self.script, "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"quantdesk serve exited:\n{self.stderr.read_text()}")
            found = ADMIN_ANNOUNCEMENT.search(self.stderr.read_text(errors="replace"))
            try:
                if found and httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                    return url, found.group(1)
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"quantdesk serve did not come up:\n{self.stderr.read_text()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


async def submissions(admin: AsyncQuantdeskClient, ref: str, n: int) -> list[int]:
    """``n`` tiny backtests submitted one after another (timed), then cancelled."""
    request = BacktestCreate(
        strategies=[ref], label="bench-submit", end_ns=SYNTH_START_NS + 3_600 * 10**9
    )
    timings, jobs = [], []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        accepted = await admin.submit_backtest(request)
        timings.append(time.perf_counter_ns() - t0)
        jobs.append(accepted.job.job_id)
    for job_id in jobs:
        try:
            await admin.cancel_job(job_id)
        except QuantdeskApiError as error:
            if error.code != "job_state":  # finished already: nothing to cancel
                raise
    for job_id in jobs:
        await admin.wait_for_job(job_id, timeout_s=120, poll_s=0.2)
    return timings


async def poller(
    url: str, token: str, job_id: str, interval_s: float, done: asyncio.Event, seen: list[int]
) -> int:
    """Poll a job's status and the runs list every ``interval_s`` (0: back to back) until
    ``done``; each request's latency into ``seen``; the error answers counted."""
    errors = 0
    async with AsyncQuantdeskClient(url, token=token, max_connections=1) as client:
        while not done.is_set():
            for call in (lambda: client.job(job_id), lambda: client.runs(limit=20)):
                t0 = time.perf_counter_ns()
                try:
                    await call()
                except QuantdeskApiError:
                    errors += 1
                seen.append(time.perf_counter_ns() - t0)
            if interval_s > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), interval_s)
    return errors


async def listen(stream: AsyncEventStream, done: asyncio.Event, latencies: list[int]) -> None:
    while not done.is_set():
        try:
            event = await stream.receive(0.5)
        except TimeoutError:
            continue
        latencies.append(time.time_ns() - event.at_ns)


async def phase(
    admin: AsyncQuantdeskClient, url: str, ref: str, interval_s: float, args: argparse.Namespace
) -> dict[str, Any]:
    """Two whole-market backtests, ``args.clients`` pollers and one event listener, until
    both backtests finish (or ``args.max_seconds``)."""
    done = asyncio.Event()
    timings: list[int] = []
    ws_ns: list[int] = []
    kinds = [EventType.backtest_progress, EventType.job_update]
    async with admin.events(kinds) as stream:
        listener = asyncio.create_task(listen(stream, done, ws_ns))
        runs = [
            await admin.submit_backtest(BacktestCreate(strategies=[ref], label=f"bench-{i}"))
            for i in range(2)
        ]
        token = admin.credentials.access_token
        assert token is not None
        started = time.perf_counter()
        pollers = [
            asyncio.create_task(
                poller(url, token, runs[i % 2].job.job_id, interval_s, done, timings)
            )
            for i in range(args.clients)
        ]
        deadline = time.monotonic() + args.max_seconds
        states: list[str] = []
        while time.monotonic() < deadline:
            states = [(await admin.job(r.job.job_id)).state.value for r in runs]
            if all(state in ("completed", "failed", "cancelled") for state in states):
                break
            await asyncio.sleep(0.5)
        done.set()
        wall = time.perf_counter() - started
        errors = await asyncio.gather(*pollers)
        await listener
    return {
        "interval_s": interval_s,
        "poll": {**percentiles(timings), "requests_per_s": round(len(timings) / wall, 1)},
        "errors": sum(errors),
        "ws": percentiles(ws_ns),
        "backtests": states,
        "seconds": round(wall, 1),
    }


async def load(url: str, password: str, args: argparse.Namespace) -> dict[str, Any]:
    async with AsyncQuantdeskClient(url) as admin:
        await admin.login("admin", password)
        definition = yaml.safe_load(STRATEGY.read_text())
        ref = (await admin.register_strategy(definition, reason="bench")).strategy.ref
        submit_ns = await submissions(admin, ref, args.submissions)
        polling = await phase(admin, url, ref, args.interval, args)
        saturated = await phase(admin, url, ref, 0.0, args)
    return {
        "clients": args.clients,
        "submit": percentiles(submit_ns),
        "polling": polling,
        "saturated": saturated,
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 1),  # other work on the machine skews it all
    }


def report(results: dict[str, Any]) -> None:
    print(f"{'figure':<22} {'n':>7} {'p50':>9} {'p99':>9} {'max':>9} {'req/s':>8}  goal p99")
    rows: list[tuple[str, dict[str, Any], float | None]] = [("submit", results["submit"], None)]
    for name in ("polling", "saturated"):
        ran = results[name]
        label = f"{name} ({ran['interval_s']:g} s)"
        rows += [(f"{label} req", ran["poll"], GOALS_MS["poll"])]
        rows += [(f"{label} ws", ran["ws"], GOALS_MS["ws"])]
    for label, r, goal in rows:
        verdict = (
            "" if goal is None else f"< {goal:g} ms: {'met' if r['p99_ms'] < goal else 'MISSED'}"
        )
        print(
            f"{label:<22} {r['n']:>7} {r['p50_ms']:>7.2f}ms {r['p99_ms']:>7.2f}ms "
            f"{r['max_ms']:>7.1f}ms {r.get('requests_per_s', ''):>8}  {verdict}"
        )
    for name in ("polling", "saturated"):
        ran = results[name]
        print(f"{name}: backtests {ran['backtests']} in {ran['seconds']} s, errors {ran['errors']}")
    print(f"{results['cpus']} CPUs, load average {results['load_avg_1m']}")
    print(json.dumps(results))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="quantdesk-bench-service-"))
    server = Server(tmp / "home")
    try:
        server.synth(args.days)
        url, password = server.start(timeout_s=120)
        results = asyncio.run(load(url, password, args))
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    report(results)
    if not args.no_save:
        RESULTS_DIR.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        (RESULTS_DIR / f"service-{stamp}.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
