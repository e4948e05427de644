"""``quantdesk.bootstrap:service_app``, the factory each uvicorn worker calls: the settings
come from the environment (home, CORS, metrics access), every resource is mounted, and
/ready checks the real database, catalog and engine (job workers start with the lifespan,
which these requests do not run)."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from quantdesk.bootstrap import service_app

ORIGIN = "https://desk.example"


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("QUANTDESK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("QUANTDESK_CORS_ORIGINS", f"{ORIGIN}, https://other.example")
    monkeypatch.setenv("QUANTDESK_METRICS_PUBLIC", "true")
    monkeypatch.delenv("QUANTDESK_DATABASE_URL", raising=False)
    return TestClient(service_app())


def test_the_factory_builds_the_whole_api_from_the_environment(
    client: TestClient, tmp_path: Path
) -> None:
    assert client.app.state.platform.home == tmp_path / "home"  # type: ignore[attr-defined]
    schema = client.get("/api/v1/openapi.json").json()
    tags = {tag for path in schema["paths"].values() for op in path.values() for tag in op["tags"]}
    assert {"health", "auth", "strategies", "backtest", "jobs", "signals", "risk"} <= tags
    answer = client.get("/api/v1/health", headers={"Origin": ORIGIN})
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    metrics = client.get("/api/v1/metrics")
    assert metrics.status_code == 200  # QUANTDESK_METRICS_PUBLIC=true
    assert "quantdesk_http_request_duration_seconds" in metrics.text


def test_ready_checks_the_real_components(client: TestClient) -> None:
    answer = client.get("/api/v1/ready")
    components = {c["name"]: c["ok"] for c in answer.json()["components"]}
    assert components == {
        "database": True,
        "job_workers": False,  # not started: no lifespan ran
        "catalog": True,
        "engine": True,
    }
    assert answer.status_code == 503


def test_operation_ids_are_tag_and_function_and_unique(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    operations = [op for path in schema["paths"].values() for op in path.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for op in operations:
        prefix = f"{op['tags'][0]}-"
        assert op["operationId"].startswith(prefix)
        assert op["operationId"].removeprefix(prefix).isidentifier()  # the function's name
