"""``/data/migrations`` on a real desk and the real PostgreSQL server: a migration and a
verify as jobs (progress to 100, the run and the verdict as results), the runs and rejects
listed; a request names a configured source and never a URL; refusals before any job; a
viewer may read but not migrate."""

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.auth import Role
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from support.api_desk import ApiDesk, api_desk, assert_problem
from support.postgres_bars import bars_table, good, insert, mapping

pytestmark = pytest.mark.services


@pytest.fixture
def dsn() -> Iterator[str]:
    with bars_table() as url:
        yield url


@pytest.fixture
def api(tmp_path: Path, dsn: str) -> Iterator[ApiDesk]:
    home = tmp_path / "home"
    bootstrap(home=home).instruments.add(
        InstrumentSpec(
            instrument_id="A.XNAS",
            asset_class=AssetClass.EQUITY,
            currency="USD",
            tick_size=Decimal("0.01"),
        )
    )
    secret = dsn.replace("postgres@", "postgres:api-s3cret@")
    with api_desk(home, migration_sources={"f2": secret}) as desk:
        yield desk


def body(**change: Any) -> dict[str, Any]:
    return {"source": "f2", "mapping": mapping().model_dump(mode="json"), **change}


def job_of(api: ApiDesk, accepted: Any) -> dict[str, Any]:
    assert accepted.status_code == 202, accepted.text
    job: dict[str, Any] = api.get(f"/jobs/{accepted.json()['job']['job_id']}").json()
    return job


def test_a_migration_and_its_verify_run_as_jobs(api: ApiDesk, dsn: str) -> None:
    insert(dsn, [good(m) for m in range(10)] + [(None, 1, 1, 1, 1, 1)])
    assert api.get("/data/migration-sources", Role.viewer).json() == {"sources": ["f2"]}
    job = job_of(api, api.post("/data/migrations", json=body()))
    assert (job["kind"], job["state"], job["subject"]) == ("migration", "completed", "a-bars")
    assert job["progress"] == 100.0
    run = job["result"]
    assert (run["rows_read"], run["rows_written"], run["rows_rejected"]) == (11, 10, 1)
    assert "s3cret" not in str(job) and run["actor"] == job["submitted_by"]
    listed = api.get("/data/migrations", Role.viewer).json()
    assert [r["migration_id"] for r in listed["items"]] == [run["migration_id"]]
    assert api.get(f"/data/migrations/{run['migration_id']}", Role.viewer).json() == run
    rejects = api.get(f"/data/migrations/{run['migration_id']}/rejects", Role.viewer).json()
    assert rejects["total"] == 1 and rejects["items"][0]["reason"] == "timestamp_unparseable"
    verified = job_of(api, api.post("/data/migrations/verify", json=body()))
    assert verified["kind"] == "migration_verify" and verified["state"] == "completed"
    assert verified["result"]["passed"] is True and verified["result"]["differences"] == 0
    assert verified["progress"] == 100.0


def test_a_request_names_a_source_never_a_url(api: ApiDesk, dsn: str) -> None:
    by_url = api.post("/data/migrations", json=body(source=dsn))
    assert_problem(by_url, 422)  # not even a name's shape
    unknown = assert_problem(api.post("/data/migrations", json=body(source="f3")), 404)
    assert unknown["code"] == "source_not_found" and "known: f2" in unknown["detail"]
    assert "s3cret" not in str(unknown)
    undefined = mapping(instrument={"instrument_id": "Z.XNAS"}).model_dump(mode="json")
    refused = api.post("/data/migrations", json=body(mapping=undefined))
    assert_problem(refused, 404, "instrument_not_found")
    bad = {**mapping().model_dump(mode="json"), "table": "bars; DROP TABLE bars"}
    assert_problem(api.post("/data/migrations", json=body(mapping=bad)), 422)
    assert api.get("/jobs").json()["total"] == 0


def test_a_viewer_reads_but_may_not_migrate(api: ApiDesk) -> None:
    assert_problem(api.post("/data/migrations", Role.viewer, json=body()), 403)
    assert_problem(api.post("/data/migrations/verify", Role.viewer, json=body()), 403)
    assert api.get("/data/migrations", Role.viewer).json()["total"] == 0
    assert_problem(api.get("/data/migrations/mig-nothing", Role.viewer), 404, "migration_not_found")
