"""The service end to end: a real ``quantdesk serve`` (uvicorn) on a free loopback port,
driven only through the Python client, on SQLite and on PostgreSQL.

One scenario per database (a server start and two engine runs are the cost): the first
admin logs in with the password the server printed once; it adds a researcher and an API
key; the researcher registers a strategy and runs a backtest job on a synthetic catalog,
follows it over the WebSocket to completion and fetches its result, fills and report; a
long backtest is cancelled mid-run; a bar file is uploaded as an ingest job (its reject
downloadable); the kill switch is thrown and released; a feature flag
is switched off and on and the gated route follows at once. Last, everything the server
wrote (its output, every file under its home, every database row) and every error body
the client received is searched for the scenario's passwords, tokens and API key: none may
appear (the admin's one-time password only in its one announcement).
"""

import contextlib
import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml

from quantdesk.api.schemas.backtest import BacktestCreate
from quantdesk.client import QuantdeskApiError, QuantdeskClient
from quantdesk.domain.auth import Role
from quantdesk.domain.events import EventType, ServiceEvent
from quantdesk.domain.jobs import JobState
from quantdesk.domain.runs import RunState
from support.console import executable, script_env
from support.registry import EXAMPLES, postgres_database

SYNTH_START_NS = 1_704_067_200_000_000_000  # 2024-01-01T00:00Z, `data synth`'s default start
DAY_NS = 86_400 * 10**9
SYNTH_DAYS = 20
START_SECONDS = 90.0
JOB_SECONDS = 240.0
PR_SET_PDEATHSIG = 1
ADMIN_ANNOUNCEMENT = re.compile(r"one-time password:\s+(\S+)")
RESEARCHER_PASSWORD = "e2e-researcher-Pa55word-" + os.urandom(6).hex()
WRONG_PASSWORD = "e2e-wrong-Pa55word-" + os.urandom(6).hex()


@dataclass
class Served:
    """A running server: its URL, home, output files and the admin's one-time password."""

    base_url: str
    home: Path
    stdout: Path
    stderr: Path
    database_url: str
    admin_password: str
    process: subprocess.Popen[bytes]


@dataclass
class Witness:
    """Every secret the scenario handled and every error body it received."""

    secrets: dict[str, str] = field(default_factory=dict)
    error_bodies: list[bytes] = field(default_factory=list)

    def transport(self) -> httpx.HTTPTransport:
        witness = self

        class Recording(httpx.HTTPTransport):
            def handle_request(self, request: httpx.Request) -> httpx.Response:
                response = super().handle_request(request)
                if response.status_code >= 400:
                    response.read()
                    witness.error_bodies.append(response.content)
                return response

        return Recording()

    def client(self, served: Served, **credentials: Any) -> QuantdeskClient:
        return QuantdeskClient(served.base_url, transport=self.transport(), **credentials)

    def keep_tokens(self, name: str, client: QuantdeskClient) -> None:
        access, refresh = client.credentials.access_token, client.credentials.refresh_token
        assert access is not None and refresh is not None
        self.secrets[f"{name} access token"] = access
        self.secrets[f"{name} access token signature"] = access.rsplit(".", 1)[-1]
        self.secrets[f"{name} refresh token"] = refresh


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def service_env(home: Path, database_url: str | None) -> dict[str, str]:
    env = {**script_env(), "QUANTDESK_HOME": str(home), "QUANTDESK_VALIDATION_SMOKE": "false"}
    env.pop("QUANTDESK_DATABASE_URL", None)
    env.pop("QUANTDESK_REDIS_URL", None)
    if database_url is not None:
        env["QUANTDESK_DATABASE_URL"] = database_url
    return env


@contextmanager
def serve(tmp_path: Path, database_url: str | None) -> Iterator[Served]:
    home = tmp_path / "home"
    env = service_env(home, database_url)
    synth = subprocess.run(
        [executable(), "data", "synth", "--instruments", "1", "--days", str(SYNTH_DAYS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert synth.returncode == 0, synth.stdout + synth.stderr
    port = free_port()
    stdout, stderr = tmp_path / "server.out", tmp_path / "server.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [executable(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        password = _wait_until_up(base_url, process, stderr)
        yield Served(
            base_url=base_url,
            home=home,
            stdout=stdout,
            stderr=stderr,
            database_url=database_url or f"sqlite:///{home / 'quantdesk.db'}",
            admin_password=password,
            process=process,
        )
    finally:
        _stop(process)


def _die_with_parent() -> None:
    """In the server's process, before it runs: SIGTERM (uvicorn's graceful stop) when the
    test process dies, so a killed test run leaves no server behind (Linux: prctl)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait_until_up(base_url: str, process: subprocess.Popen[bytes], stderr: Path) -> str:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"quantdesk serve exited with {process.returncode}:\n{stderr.read_text()}")
        found = ADMIN_ANNOUNCEMENT.search(stderr.read_text(errors="replace"))
        if found is not None:
            try:
                if httpx.get(f"{base_url}/api/v1/health", timeout=2).status_code == 200:
                    return found.group(1)
            except httpx.TransportError:
                pass
        time.sleep(0.2)
    pytest.fail(f"quantdesk serve did not come up in {START_SECONDS:g} s:\n{stderr.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT (uvicorn's graceful stop: the job workers go too), then SIGKILL for whatever
    of its process group is left."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)],
)
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    with postgres_database() as url:
        yield url


def test_the_service_end_to_end(tmp_path: Path, database_url: str | None) -> None:
    witness = Witness()
    with serve(tmp_path, database_url) as served:
        witness.secrets["admin password"] = served.admin_password
        researcher = accounts(served, witness)
        ref = register(researcher)
        backtest_followed_over_the_websocket(researcher, ref)
        long_backtest_cancelled(researcher, ref)
        bars_uploaded(researcher)
        admin = witness.client(served)
        admin.login("admin", served.admin_password)
        witness.keep_tokens("admin (second login)", admin)
        kill_switch_thrown_and_released(admin)
        flag_gates_at_once(admin, researcher, ref)
        assert admin.ready().status == "ready"
        audit_kept(admin)
        researcher.logout()
        with pytest.raises(QuantdeskApiError) as raised:
            researcher.me()
        assert raised.value.status == 401
    assert_no_secret_written(served, witness)


def accounts(served: Served, witness: Witness) -> QuantdeskClient:
    """The admin's first login, a researcher and an API key; the researcher's client."""
    admin = witness.client(served)
    with pytest.raises(QuantdeskApiError) as unauthenticated:
        admin.me()
    assert unauthenticated.value.status == 401
    with pytest.raises(QuantdeskApiError) as wrong:
        admin.login("admin", WRONG_PASSWORD)
    assert (wrong.value.status, wrong.value.code) == (401, "unauthenticated")
    admin.login("admin", served.admin_password)
    witness.keep_tokens("admin", admin)
    assert admin.me().role is Role.admin
    admin.add_user("researcher", RESEARCHER_PASSWORD, Role.researcher)
    created = admin.create_api_key("e2e-reader", Role.viewer, expires_days=1)
    witness.secrets["api key"] = created.secret
    assert created.secret not in repr(created)
    machine = witness.client(served, api_key=created.secret)
    assert machine.me().role is Role.viewer
    with pytest.raises(QuantdeskApiError) as forbidden:
        machine.throw_kill_switch(reason="a viewer may not")
    assert forbidden.value.status == 403
    researcher = witness.client(served)
    researcher.login("researcher", RESEARCHER_PASSWORD)
    witness.keep_tokens("researcher", researcher)
    researcher.refresh()  # rotation: the first refresh token is spent now
    witness.keep_tokens("researcher (refreshed)", researcher)
    spent = researcher.credentials.refresh_token
    researcher.credentials.access_token = "not-a-valid-token"  # as an expired one answers: 401
    assert researcher.me().username == "researcher"  # renewed by the client, call repeated
    assert researcher.credentials.refresh_token != spent
    witness.keep_tokens("researcher (renewed)", researcher)
    return researcher


def register(researcher: QuantdeskClient) -> str:
    definition = yaml.safe_load((EXAMPLES / "trend_following.yaml").read_text())
    registered = researcher.register_strategy(definition, reason="e2e")
    assert registered.created
    again = researcher.register_strategy(definition, reason="e2e")
    assert not again.created
    ref = registered.strategy.ref
    assert researcher.strategy(ref).definition.strategy_id == definition["strategy_id"]
    assert ref in [s.ref for s in researcher.strategies().items]
    return ref


def backtest_followed_over_the_websocket(researcher: QuantdeskClient, ref: str) -> None:
    request = BacktestCreate(
        strategies=[ref], label="e2e-short", end_ns=SYNTH_START_NS + 2 * DAY_NS
    )
    with researcher.events([EventType.job_update, EventType.backtest_progress]) as stream:
        accepted = researcher.submit_backtest(request)
        job_id, run_id = accepted.job.job_id, accepted.run_id
        seen = follow(stream, job_id, run_id)
    states = [e.payload.get("state") for e in seen if e.type is EventType.job_update]
    assert states[-1] == JobState.COMPLETED.value, states
    progress = [e for e in seen if e.type is EventType.backtest_progress]
    assert progress, f"no backtest_progress event among {[e.type.value for e in seen]}"
    assert [e.seq for e in seen] == sorted({e.seq for e in seen})  # in order, no repeats
    assert {e.correlation_id for e in seen} == {accepted.job.correlation_id}
    resumed_after = seen[0].seq - 1
    with researcher.events([EventType.job_update], after_seq=resumed_after) as again:
        replayed = follow(again, job_id, run_id)  # a client that was away gets what it missed
    assert [e.seq for e in replayed] == [e.seq for e in seen if e.type is EventType.job_update]
    run = researcher.wait_for_run(run_id, timeout_s=JOB_SECONDS)
    assert run.state is RunState.COMPLETED and run.progress == 100.0
    result = researcher.run_result(run_id)
    assert result.run_id == run_id and result.facts.bars > 0
    fills = researcher.run_fills(run_id, limit=5)
    assert fills.total == result.facts.fills and len(fills.items) == min(5, fills.total)
    csv = researcher.download_run(run_id, "fills", "csv").decode()
    assert len(csv.strip().splitlines()) == fills.total + 1
    assert researcher.run_equity(run_id, limit=1).total > 0
    assert "<html" in researcher.run_report(run_id).lower()
    assert run_id in [r.run_id for r in researcher.runs(label="e2e-short").items]


def follow(stream: Any, job_id: str, run_id: str) -> list[ServiceEvent]:
    """This job's events until its job_update says it finished."""
    seen: list[ServiceEvent] = []
    deadline = time.monotonic() + JOB_SECONDS
    while time.monotonic() < deadline:
        event: ServiceEvent = stream.receive(JOB_SECONDS)
        if event.subject in (job_id, run_id) or event.payload.get("job_id") == job_id:
            seen.append(event)
            state = event.payload.get("state")
            if event.type is EventType.job_update and state in {
                s.value for s in JobState if s.finished
            }:
                return seen
    pytest.fail(f"job {job_id} did not finish in {JOB_SECONDS:g} s; events: {seen}")


def long_backtest_cancelled(researcher: QuantdeskClient, ref: str) -> None:
    accepted = researcher.submit_backtest(BacktestCreate(strategies=[ref], label="e2e-long"))
    job_id = accepted.job.job_id
    deadline = time.monotonic() + JOB_SECONDS
    while (job := researcher.job(job_id)).state is JobState.PENDING:
        assert time.monotonic() < deadline, "the long backtest never started"
        time.sleep(0.1)
    assert job.state is JobState.RUNNING, f"the long run ended before the cancel: {job}"
    researcher.cancel_job(job_id)
    stopped = researcher.wait_for_job(job_id, timeout_s=30, poll_s=0.2)
    assert stopped.state is JobState.CANCELLED, stopped
    assert researcher.run(accepted.run_id).state is RunState.CANCELLED
    with pytest.raises(QuantdeskApiError) as raised:
        researcher.cancel_job(job_id)
    assert (raised.value.status, raised.value.code) == (409, "job_state")


def bars_uploaded(researcher: QuantdeskClient) -> None:
    """A bar file posted as an ingest job: its good rows added, its bad one kept as a reject."""
    rows = [
        f"2024-02-01T00:{minute:02d}:00Z,100.00,100.50,99.50,100.20,1000" for minute in range(1, 6)
    ]
    rows.append("2024-02-01T00:06:00Z,100.00,99.00,101.00,100.20,1000")  # high below low
    csv = "timestamp,open,high,low,close,volume\n" + "\n".join(rows) + "\n"
    accepted = researcher.upload_bars(
        csv.encode(), filename="more-bars.csv", instrument_id="SYN01.SIM"
    )
    job = researcher.wait_for_job(accepted.job.job_id, timeout_s=JOB_SECONDS, poll_s=0.2)
    assert job.state is JobState.COMPLETED and job.result is not None, job
    summary = researcher.ingest_summary(str(job.result["ingest_id"]))
    assert (summary.rows_written, summary.rows_rejected) == (5, 1), summary
    assert b"ohlc_inconsistent" in researcher.ingest_rejects(summary.ingest_id)


def kill_switch_thrown_and_released(admin: QuantdeskClient) -> None:
    admin.throw_kill_switch(reason="e2e drill")
    thrown = admin.kill_switches()
    assert "e2e drill" in str(thrown), thrown
    admin.release_kill_switch()
    assert "e2e drill" not in str(admin.kill_switches())


def flag_gates_at_once(admin: QuantdeskClient, researcher: QuantdeskClient, ref: str) -> None:
    assert "class" in researcher.export_strategy(ref).source
    admin.set_feature_flag("strategy_export", enabled=False)
    try:
        with pytest.raises(QuantdeskApiError) as raised:
            researcher.export_strategy(ref)
        assert (raised.value.status, raised.value.code) == (403, "feature_disabled")
        assert raised.value.data.get("flag") == "strategy_export"
    finally:
        admin.set_feature_flag("strategy_export", enabled=True)
    assert researcher.export_strategy(ref).ref == ref


def audit_kept(admin: QuantdeskClient) -> None:
    """Every state-changing request left an event on the chain, and the chain holds."""
    assert admin.verify_audit().holds
    actions = {e.action for e in admin.audit_events(limit=500).items}
    assert actions, "no audit event at all"
    thrown = admin.audit_events(actor="admin", limit=500).items
    assert any("kill" in e.action or "kill-switch" in e.subject for e in thrown), actions


# the secrets check ---------------------------------------------------------------------


def assert_no_secret_written(served: Served, witness: Witness) -> None:
    witness.secrets["researcher password"] = RESEARCHER_PASSWORD
    witness.secrets["wrong password"] = WRONG_PASSWORD
    places = written_places(served)
    places["error bodies received"] = b"\n".join(witness.error_bodies)
    announced = ADMIN_ANNOUNCEMENT.sub("one-time password: <announced>", served.stderr.read_text())
    places["server stderr"] = announced.encode()
    assert len(ADMIN_ANNOUNCEMENT.findall(served.stderr.read_text())) == 1
    found = [
        f"{name} in {place}"
        for place, data in places.items()
        for name, secret in witness.secrets.items()
        if secret.encode() in data
    ]
    assert found == [], "secrets written: " + "; ".join(found)
    assert len(places) > 5  # the search looked somewhere: output, home files, tables


def written_places(served: Served) -> dict[str, bytes]:
    """The server's output, every file under its home, every row of every table."""
    places = {"server stdout": served.stdout.read_bytes()}
    secret_file = served.home / "secrets" / "token-secret"
    for path in sorted(served.home.rglob("*")):
        if path.is_file() and path != secret_file:
            places[f"home file {path.relative_to(served.home)}"] = path.read_bytes()
    engine = sa.create_engine(served.database_url)
    try:
        with engine.connect() as connection:
            for table in sa.inspect(connection).get_table_names():
                rows = connection.execute(sa.text(f'SELECT * FROM "{table}"')).all()
                places[f"table {table}"] = repr(rows).encode()
    finally:
        engine.dispose()
    assert {"table audit_events", "table jobs", "table users"} <= set(places), sorted(places)
    return places
