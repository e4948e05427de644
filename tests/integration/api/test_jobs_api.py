"""``/jobs`` over HTTP: list (paged, filtered by kind, state, submitter, subject), show and
cancel any kind of job; 404 for an unknown job, 409 for cancelling a finished one.

The jobs here are validations (cheap: no catalog data, no smoke run) held by a runner that
never starts them, so pending jobs can be listed and cancelled; one test runs them inline.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from quantdesk.domain.auth import Role
from support.api_desk import ApiDesk, api_desk, assert_problem
from support.registry import postgres_database, trend


@pytest.fixture
def held(tmp_path: Path) -> Iterator[ApiDesk]:
    with api_desk(tmp_path / "home", held=True) as api:
        for name in ("trend-a", "trend-b", "trend-c"):
            api.desk.registry.register(trend(name), "tests")
        yield api


def validate(api: ApiDesk, ref: str, as_: dict[str, str] | None = None) -> str:
    response = api.post(f"/strategies/{ref}/validate", as_=as_)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["job"]["job_id"]
    return job_id


def test_a_submitted_job_is_listed_and_shown_pending(held: ApiDesk) -> None:
    job_id = validate(held, "trend-a")
    job = held.get(f"/jobs/{job_id}", Role.viewer).json()
    assert (job["state"], job["kind"], job["subject"]) == ("pending", "validation", "trend-a@1")
    assert (job["progress"], job["submitted_by"]) == (0.0, "admin")
    assert job["payload"] == {"ref": "trend-a@1"}
    assert job["correlation_id"]
    page = held.get("/jobs", Role.viewer).json()
    assert [j["job_id"] for j in page["items"]] == [job_id]


def test_the_job_list_is_paged_newest_first(held: ApiDesk) -> None:
    ids = [validate(held, ref) for ref in ("trend-a", "trend-b", "trend-c")]
    first = held.get("/jobs", params={"limit": 2}).json()
    assert (first["total"], first["next_offset"]) == (3, 2)
    rest = held.get("/jobs", params={"limit": 2, "offset": 2}).json()
    assert rest["next_offset"] is None
    assert [j["job_id"] for j in first["items"] + rest["items"]] == ids[::-1]


def test_the_job_list_filters_by_kind_state_submitter_and_subject(held: ApiDesk) -> None:
    first = validate(held, "trend-a")
    second = validate(held, "trend-b", held.other_user())
    held.post(f"/jobs/{first}/cancel")

    def ids(**params: str) -> list[str]:
        return [j["job_id"] for j in held.get("/jobs", params=params).json()["items"]]

    assert ids(kind="validation") == [second, first]
    assert ids(kind="backtest") == []
    assert ids(state="cancelled") == [first]
    assert ids(state="pending") == [second]
    assert ids(submitted_by="trader-user") == [second]
    assert ids(subject="trend-a@1") == [first]
    assert_problem(held.get("/jobs", params={"kind": "mining"}), 422)
    assert_problem(held.get("/jobs", params={"subject": "x" * 201}), 422)


def test_cancel_stops_a_pending_job_and_a_finished_one_is_a_conflict(held: ApiDesk) -> None:
    job_id = validate(held, "trend-a")
    cancelled = held.post(f"/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert (body["state"], body["error_code"]) == ("cancelled", "job_cancelled")
    assert "admin" in body["error"]
    again = assert_problem(held.post(f"/jobs/{job_id}/cancel"), 409, "job_state")
    assert again["data"]["state"] == "cancelled"


def test_an_unknown_job_is_404(held: ApiDesk) -> None:
    for job_id in ("0" * 32, "not-a-job", "f" * 64):
        assert_problem(held.get(f"/jobs/{job_id}"), 404, "job_not_found")
        assert_problem(held.post(f"/jobs/{job_id}/cancel"), 404, "job_not_found")


def test_an_overlong_job_id_is_refused_before_the_service(held: ApiDesk) -> None:
    assert_problem(held.get(f"/jobs/{'a' * 65}"), 422)


def test_an_inline_job_is_shown_with_its_result(tmp_path: Path) -> None:
    with api_desk(tmp_path / "home") as api:
        api.desk.registry.register(trend("trend-a"), "tests")
        job = api.get(f"/jobs/{validate(api, 'trend-a')}").json()
        assert (job["state"], job["progress"]) == ("completed", 100.0)
        assert job["finished_ns"] >= job["started_ns"] >= job["created_ns"]
        assert job["result"] is not None


@pytest.mark.services
def test_jobs_are_listed_filtered_and_cancelled_on_postgresql(tmp_path: Path) -> None:
    with (
        postgres_database() as url,
        api_desk(tmp_path / "home", held=True, database_url=url) as api,
    ):
        for name in ("trend-a", "trend-b"):
            api.desk.registry.register(trend(name), "tests")
        first, second = validate(api, "trend-a"), validate(api, "trend-b")
        assert api.post(f"/jobs/{first}/cancel").json()["state"] == "cancelled"
        listed = api.get("/jobs", params={"limit": 1}).json()
        assert (listed["total"], listed["items"][0]["job_id"]) == (2, second)
        pending = api.get("/jobs", params={"state": "pending"}).json()["items"]
        assert [j["job_id"] for j in pending] == [second]
        assert_problem(api.post(f"/jobs/{first}/cancel"), 409, "job_state")
