"""Optimisation over HTTP on a real desk (SQLite, a 2-day synthetic market, jobs inline, the
warm trial engine): a study as an ``optimisation`` job with progress, its summary agreeing
with its stored report, the studies listed, the HTML report; bad requests refused before
any job is queued; a viewer may not optimise; registering the best makes a version."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.auth import Role
from quantdesk.services.synthetic import SyntheticMarketConfig
from support.api_desk import ApiDesk, api_desk, assert_problem, document
from support.registry import trend

SPACE = {
    "family": "trend_following",
    "parameters": {
        "fast_period": {"low": 5, "high": 9, "step": 4},
        "slow_period": {"low": 30, "high": 40, "step": 10},
    },
}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiDesk]:
    home = tmp_path / "home"
    bootstrap(home=home).synthetic.synthesize(SyntheticMarketConfig(instruments=1, days=2, seed=11))
    with api_desk(home) as desk:
        body = {"definition": document(trend("trend-a", trade_size="100"))}
        assert desk.post("/strategies", json=body).status_code == 201
        yield desk


def optimise(api: ApiDesk, role: Role = Role.researcher, **body: Any) -> Any:
    return api.post("/strategies/trend-a@1/optimisation", role, json=body)


def test_a_study_runs_as_a_job_and_its_report_follows(api: ApiDesk) -> None:
    accepted = optimise(api, space=SPACE, trials=4, sampler="grid", study="grid-a", top=1)
    assert accepted.status_code == 202, accepted.text
    job = api.get(f"/jobs/{accepted.json()['job']['job_id']}").json()
    assert (job["kind"], job["state"], job["subject"]) == ("optimisation", "completed", "trend-a@1")
    assert job["progress"] == 100.0
    summary = job["result"]
    assert (summary["study_name"], summary["trials"], summary["sampler"]) == ("grid-a", 4, "grid")
    assert summary["reruns_matched"] is True and summary["registered_ref"] is None
    report = api.get("/studies/grid-a", Role.viewer).json()
    best = next(t for t in report["trials"] if t["number"] == report["best_number"])
    assert (summary["best_number"], summary["best_value"]) == (best["number"], best["value"])
    assert summary["best_params"] == best["params"]
    # the grid's four points, each run once
    grid = {(t["params"]["fast_period"], t["params"]["slow_period"]) for t in report["trials"]}
    assert grid == {(5, 30), (5, 40), (9, 30), (9, 40)}
    listed = api.get("/studies", Role.viewer).json()
    assert [s["name"] for s in listed["items"]] == ["grid-a"]
    assert listed["items"][0]["state"] == "completed" and "report_dir" not in listed["items"][0]
    html = api.get("/studies/grid-a/report", Role.viewer)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "grid-a" in html.text


def test_bad_requests_are_refused_before_a_job_is_queued(api: ApiDesk) -> None:
    wrong_family = {**SPACE, "family": "mean_reversion"}
    assert_problem(optimise(api, space=wrong_family, trials=4), 422)
    beyond = {"family": "trend_following", "parameters": {"fast_period": {"low": 0, "high": 9}}}
    refused = assert_problem(optimise(api, space=beyond, trials=4), 422, "invalid_space")
    assert refused["data"]["field"] == "parameters.fast_period.low"
    assert "line" not in refused["data"]
    assert_problem(optimise(api, objective="custom", trials=4), 422, "custom_objective_weights")
    assert_problem(optimise(api, trials=0), 422)
    assert_problem(optimise(api, study="not a name"), 422)
    assert_problem(optimise(api, study=".."), 422)  # never a path out of the studies folder
    assert_problem(api.post("/strategies/nope@1/optimisation", json={}), 404)
    assert api.get("/jobs").json()["total"] == 0


def test_a_viewer_may_not_optimise_and_a_study_registers_its_best(api: ApiDesk) -> None:
    refused = optimise(api, Role.viewer, trials=2)
    assert_problem(refused, 403)
    assert_problem(api.get("/studies/none-such", Role.viewer), 404, "study_not_found")
    done = optimise(api, space=SPACE, trials=4, sampler="grid", study="grid-r", register=True)
    job = api.get(f"/jobs/{done.json()['job']['job_id']}").json()
    assert job["state"] == "completed", job
    registered = job["result"]["registered_ref"]  # the grid does not hold the version's own
    assert registered == "trend-a@2"
    assert "grid-r" in api.get(f"/strategies/{registered}").json()["reason"]
