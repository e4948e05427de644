"""/health, /ready (each component with its latency; 503 while one fails, without saying
why to an unauthenticated caller) and the lifespan (jobs started and stopped, the first
admin's password printed once, never logged)."""

import logging
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import quantdesk
from support.api_app import FakeParts, fake_app

SECRET_CAUSE = "password=sekrit-in-a-url"


def _failing() -> None:
    raise RuntimeError(SECRET_CAUSE)


def test_health_is_open_and_names_the_version(tmp_path: Path) -> None:
    app, _ = fake_app(tmp_path)
    with TestClient(app) as client:
        response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": quantdesk.__version__}


def test_ready_lists_each_component(tmp_path: Path) -> None:
    calls: list[str] = []
    app, _ = fake_app(tmp_path, readiness=(("catalog", lambda: calls.append("catalog")),))
    with TestClient(app) as client:
        response = client.get("/api/v1/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert [c["name"] for c in body["components"]] == ["database", "job_workers", "catalog"]
    assert all(c["ok"] and c["latency_ms"] >= 0 for c in body["components"])
    assert calls == ["catalog"]


def test_ready_is_503_while_a_component_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    parts = FakeParts()
    app, _ = fake_app(tmp_path, parts, readiness=(("engine", _failing),))
    parts.jobs.alive = False
    with caplog.at_level(logging.WARNING), TestClient(app) as client:
        response = client.get("/api/v1/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unready"
    states = {c["name"]: (c["ok"], c.get("detail")) for c in body["components"]}
    assert states == {
        "database": (True, None),
        "job_workers": (False, "unavailable"),
        "engine": (False, "unavailable"),
    }
    assert SECRET_CAUSE not in response.text
    assert any(SECRET_CAUSE in record.getMessage() for record in caplog.records)


def test_a_check_that_never_answers_fails_in_time(tmp_path: Path) -> None:
    release = threading.Event()
    app, _ = fake_app(
        tmp_path, readiness=(("stuck", lambda: release.wait(30)),), readiness_timeout_seconds=0.3
    )
    try:
        with TestClient(app) as client:
            response = client.get("/api/v1/ready")
    finally:
        release.set()
    assert response.status_code == 503
    states = {c["name"]: (c["ok"], c.get("detail")) for c in response.json()["components"]}
    assert states["stuck"] == (False, "timeout")  # the others' timing is not the point


def test_lifespan_starts_jobs_and_prints_the_admin_password_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    app, parts = fake_app(tmp_path)
    with caplog.at_level(logging.DEBUG):
        with TestClient(app):
            assert (parts.jobs.started, parts.jobs.stopped) == (1, 0)
        assert (parts.jobs.started, parts.jobs.stopped) == (1, 1)
        with TestClient(app):
            pass
    printed = capsys.readouterr().err
    assert printed.count("one-time-admin-password") == 1
    assert all("one-time-admin-password" not in r.getMessage() for r in caplog.records)
