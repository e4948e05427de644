"""Correlation ids in and out (header, body, the route's context, the log), the audit of
state-changing requests with the body's digest, per-app metrics, body bounds and CORS."""

import hashlib
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter, Request
from fastapi.testclient import TestClient

from quantdesk.api.deps import allow, public
from quantdesk.api.observability import JsonLogFormatter
from quantdesk.domain.auth import Permission, Role
from quantdesk.domain.correlation import current_correlation_id, is_correlation_id
from quantdesk.domain.risk import KillSwitchScope
from quantdesk.domain.signal_routing import SignalStatsRow
from support.api_app import bearer, fake_app


def _router() -> APIRouter:
    router = APIRouter(tags=["probe"])

    @router.get("/probe/cid", dependencies=[public()])
    def cid() -> dict[str, str | None]:
        logging.getLogger("quantdesk.probe").warning("inside the route")
        return {"cid": current_correlation_id()}

    @router.post("/probe/things/{thing_id}", dependencies=[allow(Permission.data_write)])
    async def change(thing_id: str, request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @router.post("/auth/probe-login", dependencies=[public()])
    async def login(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    return router


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """One app for the tests that only read (building one costs about a second)."""
    app, _ = fake_app(tmp_path_factory.mktemp("observed"), routers=[_router()], metrics_public=True)
    return TestClient(app)


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """What the JSON handler of ``quantdesk serve`` would write, formatted as it is emitted."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_a_valid_client_request_id_is_used_and_echoed(
    client: TestClient, json_log: io.StringIO
) -> None:
    response = client.get("/api/v1/probe/cid", headers={"X-Request-ID": "client:req-7"})
    assert response.headers["x-request-id"] == "client:req-7"
    assert response.json() == {"cid": "client:req-7"}
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    inside = [line for line in lines if line["message"] == "inside the route"]
    assert inside[0]["correlation_id"] == "client:req-7"
    access = [line for line in lines if line.get("route") == "/api/v1/probe/cid"]
    assert (access[0]["correlation_id"], access[0]["status"], access[0]["method"]) == (
        "client:req-7",
        200,
        "GET",
    )
    assert all(isinstance(line["ts_ns"], int) for line in lines)


@pytest.mark.parametrize("offered", ["has space", "x" * 65, "<script>", ""])
def test_an_invalid_client_request_id_is_replaced(client: TestClient, offered: str) -> None:
    response = client.get("/api/v1/probe/cid", headers={"X-Request-ID": offered})
    chosen = response.headers["x-request-id"]
    assert chosen != offered and is_correlation_id(chosen)
    assert response.json() == {"cid": chosen}


def test_each_request_gets_its_own_id(client: TestClient) -> None:
    ids = {client.get("/api/v1/health").headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


def test_a_state_changing_request_is_audited_with_its_body_digest(
    tmp_path: Path,
) -> None:
    app, parts = fake_app(tmp_path, routers=[_router()])
    body = b'{"a": 1}'
    with TestClient(app) as client:
        ok = client.post(
            "/api/v1/probe/things/t1",
            content=body,
            headers={**bearer(Role.researcher), "X-Request-ID": "audit-1"},
        )
        refused = client.post("/api/v1/probe/things/t2", content=body, headers=bearer(Role.viewer))
        anonymous = client.post("/api/v1/probe/things/t3", content=body)
        client.get("/api/v1/health")
    assert (ok.status_code, refused.status_code, anonymous.status_code) == (200, 403, 401)
    first, second = parts.audit.events
    assert first == {
        "actor": "researcher",
        "action": "probe-change",
        "subject": "/api/v1/probe/things/t1",
        "outcome": "ok",
        "payload_digest": hashlib.sha256(body).hexdigest(),
        "correlation_id": "audit-1",
    }
    assert (second["actor"], second["outcome"]) == ("viewer", "403")
    assert len(parts.audit.events) == 2  # the GET is not audited, nor the anonymous refusal


def test_a_refused_anonymous_request_is_logged_not_chained(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app, parts = fake_app(tmp_path, routers=[_router()])
    with caplog.at_level(logging.WARNING, logger="quantdesk.api"), TestClient(app) as client:
        for _ in range(5):
            client.post("/api/v1/probe/things/t9", content=b"{}")
            client.post("/api/v1/probe/things/t9", headers={"Authorization": "Bearer forged"})
            client.delete("/api/v1/no-such-route")
    assert parts.audit.events == []
    refusals = [r for r in caplog.records if r.getMessage().startswith("refused anonymous")]
    assert len(refusals) == 15


def test_auth_bodies_get_no_digest(tmp_path: Path) -> None:
    app, parts = fake_app(tmp_path, routers=[_router()])
    with TestClient(app) as client:
        client.post("/api/v1/auth/probe-login", json={"password": "hunter2hunter2"})
    (event,) = parts.audit.events
    assert event["payload_digest"] is None
    assert event["action"] == "probe-login"
    assert "hunter2" not in json.dumps(event)


def test_a_json_body_past_the_bound_is_a_413_problem(tmp_path: Path) -> None:
    app, _ = fake_app(tmp_path, routers=[_router()], json_body_max_bytes=1024)
    with TestClient(app) as client:
        small = client.post(
            "/api/v1/probe/things/t", content=b"x" * 1000, headers=bearer(Role.admin)
        )
        large = client.post(
            "/api/v1/probe/things/t", content=b"x" * 2000, headers=bearer(Role.admin)
        )
        streamed = client.post(
            "/api/v1/probe/things/t",
            content=iter([b"x" * 800, b"x" * 800]),  # chunked: no length declared
            headers=bearer(Role.admin),
        )
    assert small.status_code == 200
    for refused in (large, streamed):
        assert refused.status_code == 413
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "payload_too_large"


def test_an_upload_has_its_own_bound(tmp_path: Path) -> None:
    app, _ = fake_app(
        tmp_path, routers=[_router()], json_body_max_bytes=1024, upload_max_bytes=10_000
    )
    with TestClient(app) as client:
        fits = client.post(
            "/api/v1/probe/things/t",
            files={"file": ("a.csv", b"y" * 5000)},
            headers=bearer(Role.admin),
        )
        too_big = client.post(
            "/api/v1/probe/things/t",
            files={"file": ("a.csv", b"y" * 20_000)},
            headers=bearer(Role.admin),
        )
    assert fits.status_code == 200
    assert too_big.status_code == 413


def test_metrics_by_route_template_in_a_registry_of_the_app(tmp_path: Path) -> None:
    app, parts = fake_app(tmp_path / "a", routers=[_router()], metrics_public=True)
    other, _ = fake_app(tmp_path / "b", metrics_public=True)
    parts.events.clients = 3
    app.state.platform.risk.kill(KillSwitchScope.STRATEGY, "trend-a", "test", "tester")
    with TestClient(app) as client, TestClient(other) as other_client:
        client.post("/api/v1/probe/things/abc", headers=bearer(Role.admin))
        client.post("/api/v1/probe/things/def", headers=bearer(Role.admin))
        client.get("/api/v1/no/such/path")
        text = client.get("/api/v1/metrics").text
        other_text = other_client.get("/api/v1/metrics").text
    assert (
        'quantdesk_http_request_duration_seconds_count{method="POST",'
        'route="/api/v1/probe/things/{thing_id}",status="200"} 2.0' in text
    )
    assert 'route="unmatched",status="404"' in text
    assert "abc" not in text
    assert "quantdesk_websocket_clients 3.0" in text
    assert 'quantdesk_risk_kill_switches{scope="strategy"} 1.0' in text
    assert 'quantdesk_jobs{kind="backtest",state="running"} 2.0' in text
    assert 'quantdesk_job_duration_seconds_count{kind="ingest_bars"} 1.0' in text
    assert 'quantdesk_job_duration_seconds_sum{kind="ingest_bars"} 4.5' in text
    assert "probe/things" not in other_text  # its own registry


def test_metrics_need_a_token_unless_public(tmp_path: Path) -> None:
    app, _ = fake_app(tmp_path)
    with TestClient(app) as client:
        assert client.get("/api/v1/metrics").status_code == 401
        assert client.get("/api/v1/metrics", headers=bearer(Role.viewer)).status_code == 200


def test_no_cors_by_default_and_only_the_allowed_origins(tmp_path: Path) -> None:
    closed, _ = fake_app(tmp_path / "a")
    opened, _ = fake_app(tmp_path / "b", cors_origins=("https://desk.example",))
    with TestClient(closed) as client:
        answer = client.get("/api/v1/health", headers={"Origin": "https://desk.example"})
        assert "access-control-allow-origin" not in answer.headers
    with TestClient(opened) as client:
        allowed = client.get("/api/v1/health", headers={"Origin": "https://desk.example"})
        other = client.get("/api/v1/health", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://desk.example"
    assert "access-control-allow-origin" not in other.headers


def test_signal_counts_are_summed_over_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = fake_app(tmp_path, metrics_public=True)
    rows = [
        SignalStatsRow("sentiment", "model-a", accepted=3, rejected={"stale": 2}, delivered=1),
        SignalStatsRow("sentiment", "model-b", accepted=4, rejected={"unknown": 1}),
        SignalStatsRow("volatility", "garch", accepted=1, dead_lettered=1),
    ]
    monkeypatch.setattr(app.state.platform.signals, "stats", lambda: rows)
    with TestClient(app) as client:
        text = client.get("/api/v1/metrics").text
    assert 'quantdesk_signals_total{outcome="accepted",signal_type="sentiment"} 7.0' in text
    assert 'quantdesk_signals_total{outcome="rejected",signal_type="sentiment"} 3.0' in text
    assert 'quantdesk_signals_total{outcome="dead_lettered",signal_type="volatility"} 1.0' in text
    assert text.count('outcome="accepted",signal_type="sentiment"') == 1  # one series
