"""Errors as problem details: each domain error class at its status with code, data, hint and
the correlation id; validation errors name fields, never the values sent; an unforeseen
error is a 500 that names only the correlation id (its traceback goes to the log)."""

import json
import logging
from collections.abc import Iterator

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from quantdesk.api.deps import public
from quantdesk.api.observability import JsonLogFormatter
from quantdesk.domain.errors import (
    AuthenticationError,
    CatalogError,
    ConflictError,
    FeatureDisabledError,
    InvalidInputError,
    JobStateError,
    NotFoundError,
    NothingValidError,
    PermissionDeniedError,
    QuantdeskError,
    RateLimitedError,
    SourceReadError,
)
from support.api_app import fake_app

SECRET = "hunter2-correct-horse-battery-staple"

CASES: list[tuple[QuantdeskError, int, str]] = [
    (InvalidInputError("bad value", data={"field": "x"}), 422, "invalid_input"),
    (NotFoundError("no run r1", code="run_not_found", data={"run_id": "r1"}), 404, "run_not_found"),
    (ConflictError("exists"), 409, "conflict"),
    (JobStateError("job is finished"), 409, "job_state"),
    (AuthenticationError("invalid credentials"), 401, "unauthenticated"),
    (PermissionDeniedError("not allowed"), 403, "forbidden"),
    (RateLimitedError("slow down", data={"retry_after_s": 12.5}), 429, "rate_limited"),
    (FeatureDisabledError("off", data={"flag": "live_trading"}), 403, "feature_disabled"),
    (NothingValidError("no valid row"), 422, "nothing_valid"),
    (SourceReadError("cannot read"), 422, "source_unreadable"),
    (CatalogError("catalog broken"), 503, "catalog_error"),
    (QuantdeskError("something else", hint="try again"), 400, "error"),
]


class Secretive(BaseModel):
    name: str = Field(min_length=3)
    password: str = Field(min_length=100)
    count: int = Field(ge=0)


def _router() -> APIRouter:
    router = APIRouter(tags=["probe"])

    @router.get("/probe/fail/{case}", dependencies=[public()])
    def fail(case: int) -> None:
        raise CASES[case][0]

    @router.post("/probe/secretive", dependencies=[public()])
    def secretive(body: Secretive) -> dict[str, str]:
        return {"name": body.name}

    @router.post("/probe/built", dependencies=[public()])
    def built(body: dict[str, str]) -> None:
        Secretive.model_validate(body)  # a model the route builds refuses the input

    @router.get("/probe/crash", dependencies=[public()])
    def crash() -> None:
        raise RuntimeError(f"internal detail {SECRET}")

    return router


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the module (building one costs about a second)."""
    app, _ = fake_app(tmp_path_factory.mktemp("problems"), routers=[_router()])
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize("case", range(len(CASES)), ids=[c[2] for c in CASES])
def test_domain_error_becomes_problem_at_its_status(client: TestClient, case: int) -> None:
    error, status, code = CASES[case]
    response = client.get(f"/api/v1/probe/fail/{case}", headers={"X-Request-ID": "req-42"})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"/problems/{code}"
    assert body["status"] == status
    assert body["code"] == code
    assert body["detail"] == error.message
    assert body["data"] == error.data
    assert body["correlation_id"] == "req-42"
    assert body.get("hint") == error.hint
    assert body["title"]
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    if status == 429:
        assert response.headers["retry-after"] == "13"


def test_validation_error_lists_fields_without_the_values(client: TestClient) -> None:
    response = client.post(
        "/api/v1/probe/secretive", json={"name": SECRET[:2], "password": SECRET, "count": -5}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "invalid_input"
    assert {error["field"] for error in body["errors"]} == {
        "body.name",
        "body.password",
        "body.count",
    }
    assert all(error["message"] for error in body["errors"])
    assert SECRET not in response.text
    assert SECRET[:2] not in json.dumps(body["errors"])
    assert "-5" not in response.text


def test_a_model_built_by_the_route_refusing_the_input_is_a_422_without_it(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        response = client.post("/api/v1/probe/built", json={"password": SECRET})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_input"
    assert {e["field"] for e in body["errors"]} == {"name", "password", "count"}
    assert SECRET not in response.text
    assert all(SECRET not in r.getMessage() for r in caplog.records)


def test_malformed_json_is_a_422_problem_without_the_document(client: TestClient) -> None:
    response = client.post(
        "/api/v1/probe/secretive",
        content=f'{{"password": "{SECRET}", '.encode(),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_input"
    assert SECRET not in response.text


def test_unexpected_error_is_a_500_naming_only_the_correlation_id(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="quantdesk.api"):
        response = client.get("/api/v1/probe/crash", headers={"X-Request-ID": "crash-1"})
    assert response.status_code == 500
    body = response.json()
    assert body["detail"] == "internal error (correlation id crash-1)"
    assert body["code"] == "internal"
    assert response.headers["x-request-id"] == "crash-1"
    assert SECRET not in response.text
    assert "Traceback" not in response.text
    logged = [r for r in caplog.records if r.exc_info is not None]
    assert logged, "the traceback must reach the log"
    line = json.loads(JsonLogFormatter().format(logged[0]))
    assert "RuntimeError" in line["traceback"]
    assert line["correlation_id"] == "crash-1"


def test_unknown_route_and_method_are_problems(client: TestClient) -> None:
    missing = client.get("/api/v1/no-such-thing")
    wrong_method = client.delete("/api/v1/health")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    assert (wrong_method.status_code, wrong_method.json()["code"]) == (405, "method_not_allowed")
    assert wrong_method.headers["content-type"] == "application/problem+json"
