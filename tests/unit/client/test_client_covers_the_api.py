"""The client and the server agree on the routes: every call the client can make is an
operation of the app's OpenAPI schema (method and path), and every operation of the schema
has a client call (so a new route without one fails here)."""

import inspect
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from quantdesk.api.app import create_app
from quantdesk.api.config import ApiSettings
from quantdesk.bootstrap import bootstrap
from quantdesk.client import (
    _api_access,
    _api_desk,
    _api_migrations,
    _api_optimisation,
    _api_research,
)
from quantdesk.client._transport import Call
from quantdesk.domain.auth import Role
from support.table_sources import bars_mapping

MODULES: tuple[ModuleType, ...] = (
    _api_access,
    _api_research,
    _api_desk,
    _api_optimisation,
    _api_migrations,
)
NOT_FOR_THE_CLIENT = {("GET", "/api/v1/docs"), ("GET", "/api/v1/redoc")}
SAMPLES: dict[str, Any] = {
    "username": "alice",
    "password": "a-long-password",
    "refresh_token": "r",
    "role": Role.viewer,
    "name": "key-1",
    "ref": "trend-a@1",
    "strategy_id": "trend-a",
    "definition": {"strategy_id": "trend-a"},
    "tag": "live",
    "version": 1,
    "from_version": 1,
    "to_version": 2,
    "run_id": "run-1",
    "job_id": "0" * 32,
    "a": "run-1",
    "b": "run-2",
    "artifact": "fills",
    "request": None,
    "record": {},
    "records": [{}],
    "signal_id": "s1",
    "dead_letter_id": "d1",
    "limits": {},
    "reason": "why",
    "instrument_id": "SYN01.SIM",
    "data": b"x",
    "filename": "bars.csv",
    "ingest_id": "i1",
    "flag": "strategy_export",
    "key_id": "k1",
    "user_id": "u1",
    "validation_id": "v1",
    "policy": {},
    "source": "f2",
    "mapping": bars_mapping().model_dump(mode="json"),
    "migration_id": "mig-1",
}


def client_calls() -> list[tuple[str, Call[Any]]]:
    calls = []
    for module in MODULES:
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ != module.__name__ or name.startswith("_"):
                continue
            arguments = {
                p: SAMPLES[p]
                for p, parameter in inspect.signature(function).parameters.items()
                if parameter.default is inspect.Parameter.empty
                and parameter.kind is not inspect.Parameter.VAR_KEYWORD
            }
            if name == "submit_backtest":
                arguments["request"] = {"strategies": ["trend-a@1"]}
            calls.append((name, function(**arguments)))
    return calls


@pytest.fixture(scope="module")
def operations(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    home: Path = tmp_path_factory.mktemp("home")
    schema = create_app(bootstrap(home=home), ApiSettings()).openapi()
    return {
        (method.upper(), route)
        for route, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }


def matches(template: str, path: str) -> bool:
    pattern = re.sub(r"\{[^}]+\}", "[^/]+", template)
    return re.fullmatch(pattern, path) is not None


def test_every_client_call_is_an_operation_of_the_server(operations: set[tuple[str, str]]) -> None:
    unknown = [
        f"{name}: {call.method} {call.path}"
        for name, call in client_calls()
        if not any(
            method == call.method and matches(template, "/api/v1" + call.path)
            for method, template in operations
        )
    ]
    assert unknown == []


def test_every_operation_of_the_server_has_a_client_call(operations: set[tuple[str, str]]) -> None:
    calls = client_calls()
    uncovered = sorted(
        f"{method} {template}"
        for method, template in operations - NOT_FOR_THE_CLIENT
        if not any(
            method == call.method and matches(template, "/api/v1" + call.path) for _, call in calls
        )
    )
    assert uncovered == []
