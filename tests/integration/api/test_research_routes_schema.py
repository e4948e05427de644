"""The /strategies, /backtest and /jobs answers on a populated desk (registered versions, a
tag, completed runs, jobs) match the OpenAPI schema the app publishes: status, content type
and body, for every operation, downloads included. Schemathesis' generated requests (the e2e
test) rarely name a stored id, so the answers with content are checked here."""

from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fakes import FakeBacktestRunner
from quantdesk.bootstrap import bootstrap
from quantdesk.services.synthetic import SyntheticMarketConfig
from support.api_desk import api_desk, document
from support.registry import trend

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MINE = ("/api/v1/strategies", "/api/v1/backtest", "/api/v1/jobs")
TABLES = ("/fills", "/positions", "/equity")


def test_every_answer_with_content_matches_the_published_schema(tmp_path: Path) -> None:
    home = tmp_path / "home"
    bootstrap(home=home).synthetic.synthesize(SyntheticMarketConfig(instruments=1, days=1, seed=3))
    with api_desk(home, runner=FakeBacktestRunner()) as api:
        api.desk.registry.register(trend("trend-a"), "tests")
        api.desk.registry.register(trend("trend-a", fast_period=11), "tests")
        api.put("/strategies/trend-a/tags/paper", json={"version": 1})
        run_a, run_b = (
            api.post("/backtest", json={"strategies": ["trend-a"]}).json()["run_id"]
            for _ in range(2)
        )
        job_id = api.get("/jobs").json()["items"][0]["job_id"]
        values = {"ref": "trend-a", "run_id": run_a, "job_id": job_id, "tag": "paper"}
        queries = {
            "/diff": {"from_version": 1, "to_version": 2},
            "/compare": {"a": run_a, "b": run_b},
        }
        bodies: dict[tuple[str, str], Any] = {
            ("POST", "/api/v1/strategies"): {"definition": document(trend("trend-z"))},
            ("PUT", "/api/v1/strategies/{ref}"): {
                "definition": document(trend("trend-a", fast_period=13))
            },
            ("PUT", "/api/v1/strategies/{ref}/tags/{tag}"): {"version": 2},
            ("POST", "/api/v1/strategies/{ref}/deprecate"): {"reason": "superseded"},
            ("POST", "/api/v1/backtest"): {"strategies": ["trend-a@1"]},
        }
        schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api.client.app)
        operations = [result.ok() for result in schema.get_all_operations()]
        operations = [o for o in operations if o.path.startswith(MINE)]
        operations.sort(key=lambda o: o.path.endswith("/cancel"))  # cancels last: 409s
        failures, checked = [], 0
        for operation in operations:
            method = operation.method.upper()
            path_values = {p.name: values[p.name] for p in operation.path_parameters}
            if operation.path.endswith("/deprecate"):
                path_values["ref"] = "trend-a@1"
            query = next((q for tail, q in queries.items() if operation.path.endswith(tail)), {})
            body = bodies.get((method, operation.path))
            formats = ["json", "csv", "parquet"] if operation.path.endswith(TABLES) else ["json"]
            for format in formats:
                extra = {} if format == "json" else {"format": format}
                case = operation.Case(
                    path_parameters=path_values,
                    query={**query, **extra},
                    **({} if body is None else {"body": body}),
                )
                checked += 1
                try:
                    case.call_and_validate(headers=api.headers(), checks=CHECKS)
                except Exception as error:  # collected: every mismatch named at once
                    failures.append(f"{method} {operation.path} {format}: {error}"[:2000])
        assert checked >= 28
        assert not failures, "\n\n".join(failures)
