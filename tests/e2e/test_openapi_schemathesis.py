"""Schemathesis over the service's own OpenAPI schema, as an admin: generated requests to
every operation (a few examples each, so the whole run stays within about a minute) never
meet a 5xx, and every answer is one the schema declares (status, content type, body).

The desk is real (registry, auth, jobs, flags on SQLite) with the engine replaced by the
deterministic fake: the engine is not what this checks."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fakes import FakeBacktestRunner
from quantdesk.api.app import create_app
from quantdesk.api.config import ApiSettings
from quantdesk.bootstrap import Overrides, bootstrap
from quantdesk.domain.auth import Role

PASSWORD = "schemathesis admin password"
EXAMPLES_PER_OPERATION = 4
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, str]]:
    home: Path = tmp_path_factory.mktemp("schemathesis") / "home"
    desk = bootstrap(home=home, overrides=Overrides(runner=FakeBacktestRunner()))
    app = create_app(desk, ApiSettings(uploads_dir=home / "uploads", upload_max_bytes=1 << 20))
    auth = desk.service.auth
    auth.add_user("fuzz-admin", Role.admin, actor="test", password=PASSWORD)
    token = auth.login("fuzz-admin", PASSWORD, address="test").access_token
    yield app, token


def test_no_server_error_and_answers_match_the_schema(served: tuple[FastAPI, str]) -> None:
    """Each operation in turn (its own hypothesis run); every failing one is reported."""
    app, token = served
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: reported as found
            suppress_health_check=list(HealthCheck),
            derandomize=True,  # the same requests every run
            database=None,
        )
        def check(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            check()
        except Exception as error:  # collected: one run names every failing operation
            failures.append(f"{operation.method.upper()} {operation.path}: {error}"[:2000])
    assert operations > 20
    assert not failures, "\n\n".join(failures)
