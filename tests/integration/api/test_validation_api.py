"""Validation over HTTP on a real desk (SQLite registry, jobs inline, the pipeline a stand-in
of ``support/validation_desk``): a run as a ``validation_run`` job with progress, its record
and reports, policies (admin sets them), the gate's 409 and the admin's override."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quantdesk.domain.auth import Role
from support.api_desk import ApiDesk, api_desk, assert_problem, document
from support.registry import trend
from support.validation_desk import fake_research


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiDesk]:
    fake_research(monkeypatch)
    with api_desk(tmp_path / "home") as desk:
        for params in ({}, {"fast_period": 12}):
            definition = {"definition": document(trend("trend-a", **params))}
            assert api_put_or_post(desk, definition).status_code == 201
        # the gate guards the registry's tags once the research parts are built (bootstrap
        # builds them with the registry when the lead wires it: until then a read does)
        assert desk.get("/strategies/trend-a@1/promotion").status_code == 200
        yield desk


def api_put_or_post(api: ApiDesk, body: dict[str, Any]) -> Any:
    first = api.post("/strategies", json=body)
    return first if first.status_code != 409 else api.put("/strategies/trend-a", json=body)


def validate(api: ApiDesk, ref: str = "trend-a@1", **body: Any) -> dict[str, Any]:
    response = api.post(f"/strategies/{ref}/validation", json=body)
    assert response.status_code == 202, response.text
    job = api.get(f"/jobs/{response.json()['job']['job_id']}").json()
    assert (job["kind"], job["state"], job["subject"]) == ("validation_run", "completed", ref)
    result: dict[str, Any] = job["result"]
    return {**result, "job": job}


def test_a_validation_runs_as_a_job_its_record_and_reports_follow(api: ApiDesk) -> None:
    done = validate(api, "trend-a@1", workers=2)
    assert done["job"]["progress"] == 100.0 and done["job"]["payload"]["workers"] == 2
    assert (done["ref"], done["passed"], done["policy_name"]) == ("trend-a@1", True, "default")
    vid = done["validation_id"]
    listed = api.get("/strategies/trend-a/validations", Role.viewer).json()
    assert [item["validation_id"] for item in listed["items"]] == [vid]
    assert "report_path" not in listed["items"][0]  # a server path stays on the server
    assert api.get("/strategies/trend-a@2/validations").json()["total"] == 0
    report = api.get(f"/validations/{vid}", Role.viewer).json()
    assert (report["validation_id"], report["passed"], report["version"]) == (vid, True, 1)
    html = api.get(f"/validations/{vid}/report", Role.viewer)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert vid in html.text
    assert api.get("/strategies/trend-a@1").json()["tags"] == ["validated"]
    status = api.get("/strategies/trend-a@1/promotion").json()
    assert (status["tradable"], status["reason"]) == (True, "validated")
    tagged = api.put("/strategies/trend-a/tags/live", json={"version": 1})
    assert tagged.status_code == 200, tagged.text


def test_an_unvalidated_or_failed_version_is_refused_live_with_409(api: ApiDesk) -> None:
    body = assert_problem(api.put("/strategies/trend-a/tags/live", json={"version": 2}), 409)
    assert body["code"] == "not_validated"
    assert (body["data"]["ref"], body["data"]["reason"]) == ("trend-a@2", "no validation")
    strict = {"name": "strict", "thresholds": {"min_oos_sharpe": 1.5}}
    assert api.put("/validation-policies/strict", Role.admin, json={"policy": strict}).is_success
    failed = validate(api, "trend-a@2", policy="strict")
    assert (failed["passed"], failed["failed_checks"]) == (False, ["oos_sharpe"])
    body = assert_problem(api.put("/strategies/trend-a/tags/live", json={"version": 2}), 409)
    assert body["data"]["reason"] == "last validation failed"
    assert body["data"]["failed_checks"] == "oos_sharpe"
    refused = api.put("/strategies/trend-a/tags/validated", json={"version": 2})
    assert_problem(refused, 409, "tag_reserved")


def test_policies_are_read_by_all_and_set_by_admins_in_versions(api: ApiDesk) -> None:
    listed = api.get("/validation-policies", Role.viewer).json()
    assert [(p["name"], p["version"]) for p in listed["items"]] == [("default", 1)]
    stricter = {"thresholds": {"min_oos_sharpe": 0.8}}
    assert_problem(api.put("/validation-policies/default", json={"policy": stricter}), 403)
    stored = api.put("/validation-policies/default", Role.admin, json={"policy": stricter}).json()
    assert (stored["created"], stored["policy"]["version"]) == (True, 2)
    again = api.put("/validation-policies/default", Role.admin, json={"policy": stricter}).json()
    assert (again["created"], again["policy"]["version"]) == (False, 2)
    shown = api.get("/validation-policies/default", params={"version": 1}).json()
    assert shown["policy"]["thresholds"]["min_oos_sharpe"] == 0.5
    assert api.get("/validation-policies/default").json()["version"] == 2
    bad = {"thresholds": {"max_pbo": 2}}
    problem = assert_problem(
        api.put("/validation-policies/default", Role.admin, json={"policy": bad}), 422
    )
    assert (problem["code"], problem["data"]["field"]) == ("invalid_policy", "thresholds.max_pbo")
    other = {"name": "other"}
    mismatch = api.put("/validation-policies/default", Role.admin, json={"policy": other})
    assert_problem(mismatch, 422, "policy_name_mismatch")
    assert_problem(api.get("/validation-policies/nope"), 404, "policy_not_found")


def test_an_admin_override_needs_a_reason_and_lets_the_version_trade(api: ApiDesk) -> None:
    route = "/strategies/trend-a@2/promotion-override"
    assert_problem(api.post(route, Role.trader, json={"reason": "trust me"}), 403)
    assert_problem(api.post(route, Role.admin, json={"reason": ""}), 422)
    done = api.post(route, Role.admin, json={"reason": "desk demo, one lot"})
    assert done.status_code == 201, done.text
    assert (done.json()["ref"], done.json()["actor"]) == ("trend-a@2", "admin")
    status = api.get("/strategies/trend-a@2/promotion").json()
    assert (status["tradable"], status["reason"]) == (True, "override")
    assert api.put("/strategies/trend-a/tags/live", json={"version": 2}).status_code == 200
    actions = [e["action"] for e in api.get("/audit", Role.admin).json()["items"]]
    assert "promotion_overridden" in actions


def test_unknown_things_are_404_and_runs_need_their_permission(api: ApiDesk) -> None:
    assert_problem(api.post("/strategies/nope@1/validation", json={}), 404)
    missing = api.post("/strategies/trend-a@1/validation", json={"policy": "nope"})
    assert_problem(missing, 404, "policy_not_found")
    assert_problem(api.post("/strategies/trend-a@1/validation", Role.viewer, json={}), 403)
    assert_problem(api.get("/validations/0123456789abcdef"), 404, "validation_not_found")
    assert_problem(api.get("/validations/0123456789abcdef/report"), 404)
    assert_problem(api.get("/strategies/nope/validations"), 404)
    assert_problem(api.post("/strategies/trend-a@1/validation", json={"workers": 0}), 422)
