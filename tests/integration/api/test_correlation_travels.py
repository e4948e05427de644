"""The request id a client sends travels with its request on the real desk (SQLite and
PostgreSQL): into the job it submits, the audit event of the request (with the body's
digest, on the chain), the JSON log line and, when it fails, the problem body."""

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fakes import FakeBacktestRunner
from quantdesk.api.app import create_app
from quantdesk.api.config import ApiSettings
from quantdesk.api.observability import JsonLogFormatter
from quantdesk.bootstrap import Overrides, bootstrap
from quantdesk.domain.auth import Role
from quantdesk.services.platform import Platform
from quantdesk.services.ports.audit_trail import AuditFilter
from quantdesk.settings import QuantdeskSettings
from support.registry import postgres_database

PASSWORD = "correlation password 1"
REQUEST_ID = "client-trace:77"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def desk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    overrides = Overrides(runner=FakeBacktestRunner())
    if request.param == "sqlite":
        yield bootstrap(home=tmp_path / "home", overrides=overrides)
        return
    with postgres_database() as url:
        settings = QuantdeskSettings(home=tmp_path / "home", database_url=url)
        yield bootstrap(settings, overrides=overrides)


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter())
    logger = logging.getLogger("quantdesk.api")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _client(desk: Platform) -> tuple[TestClient, dict[str, str]]:
    app = create_app(desk, ApiSettings(uploads_dir=desk.home / "uploads"))
    desk.service.auth.add_user("ann", Role.researcher, actor="test", password=PASSWORD)
    token = desk.service.auth.login("ann", PASSWORD, address="test").access_token
    return TestClient(app), {"Authorization": f"Bearer {token}", "X-Request-ID": REQUEST_ID}


def test_the_request_id_reaches_the_job_the_audit_and_the_log(
    desk: Platform, json_log: io.StringIO
) -> None:
    client, headers = _client(desk)
    answer = client.post(
        "/api/v1/data/uploads/signals",
        headers=headers,
        files={"file": ("signals.jsonl", b'{"signal_id": "s1"}\n')},
    )
    assert answer.status_code == 202, answer.text
    assert answer.headers["x-request-id"] == REQUEST_ID
    job = answer.json()["job"]
    assert job["correlation_id"] == REQUEST_ID
    assert desk.service.jobs.get(job["job_id"]).correlation_id == REQUEST_ID
    events, _ = desk.service.audit.query(AuditFilter(actor="ann"), limit=10)
    (event,) = [e for e in events if e.payload.get("correlation_id") == REQUEST_ID]
    assert event.subject == "/api/v1/data/uploads/signals"
    assert event.payload["outcome"] == "ok"
    digest = event.payload["payload_digest"]
    assert isinstance(digest, str) and len(digest) == 64
    assert desk.service.audit.verify()[0]  # on the chain, which still holds
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert any(
        line.get("route") == "/api/v1/data/uploads/signals" and line["correlation_id"] == REQUEST_ID
        for line in lines
    )


def test_the_request_id_is_in_the_problem_of_a_failed_request(desk: Platform) -> None:
    client, headers = _client(desk)
    answer = client.get("/api/v1/jobs/no-such-job", headers=headers)
    assert answer.status_code == 404
    assert answer.json()["correlation_id"] == REQUEST_ID
