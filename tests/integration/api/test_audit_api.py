"""/audit over a real desk: query with filters and pages, verify the chain (SQLite and
PostgreSQL), and the request events the middleware writes."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from quantdesk.domain.auth import Role
from support.desk_api import DeskApi, assert_problem, desk_api
from support.registry import postgres_database, trend


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DeskApi]:
    if request.param == "sqlite":
        with desk_api(tmp_path / "home") as made:
            yield made
        return
    with postgres_database() as url, desk_api(tmp_path / "home", database_url=url) as made:
        yield made


def test_query_pages_and_filters(api: DeskApi) -> None:
    api.desk.registry.register(trend("trend-a"), "alice", "first")
    api.desk.registry.register(trend("trend-b"), "bob", "second")
    for _ in range(3):
        assert api.put("/risk/limits", json={"limits": {}, "reason": "x"}).status_code == 200
    everything = api.get("/audit").json()
    actions = [e["action"] for e in everything["items"]]
    assert actions[:2] == ["strategy_registered", "strategy_registered"]
    assert actions.count("risk-set_limits") == 3  # the middleware audits each PUT
    assert everything["total"] == len(actions)
    page = api.get("/audit", params={"limit": 2, "offset": 1}).json()
    assert [e["seq"] for e in page["items"]] == [2, 3]
    assert page["next_offset"] == 3 and page["total"] == everything["total"]
    by_actor = api.get("/audit", params={"actor": "bob"}).json()
    assert [e["subject"] for e in by_actor["items"]] == ["trend-b@1"]
    by_subject = api.get("/audit", params={"subject": "trend-"}).json()
    assert by_subject["total"] == 2
    after = api.get("/audit", params={"after_seq": 2, "action": "risk-set_limits"}).json()
    assert after["total"] == 3
    request_event = after["items"][0]
    assert request_event["actor"] == "trader"
    assert request_event["payload"]["outcome"] == "ok"
    assert len(request_event["payload"]["payload_digest"]) == 64
    assert request_event["payload"]["correlation_id"]
    first_at = everything["items"][0]["at_ns"]
    window = api.get("/audit", params={"since_ns": first_at, "until_ns": first_at + 1}).json()
    assert [e["seq"] for e in window["items"]] == [1]


def test_hostile_queries_are_problems(api: DeskApi) -> None:
    for params in (
        {"after_seq": -1},
        {"after_seq": 2**63},
        {"limit": 0},
        {"limit": 501},
        {"actor": "a" * 201},
        {"since_ns": -5},
    ):
        assert_problem(api.get("/audit", params=params), 422, "invalid_input")
    assert_problem(api.client.get("/api/v1/audit"), 401, "unauthenticated")


def test_verify_holds_then_names_a_tampered_event(api: DeskApi) -> None:
    api.desk.registry.register(trend(), "alice", "first")
    api.post("/risk/kill-switch", json={"reason": "drill"})
    verified = api.get("/audit/verify").json()
    assert verified["holds"] is True and verified["breaks"] == []
    assert verified["events"] >= 3 and verified["keyed"] is False
    engine = create_engine(api.desk.database.location)  # trust auth: no password in it
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"))
    engine.dispose()
    broken = api.get("/audit/verify").json()
    assert broken["holds"] is False
    assert [b["seq"] for b in broken["breaks"]] == [2]
    assert "altered" in broken["breaks"][0]["reason"]


def test_viewer_reads_the_log(api: DeskApi) -> None:
    assert api.get("/audit", role=Role.viewer).status_code == 200
    assert api.get("/audit/verify", role=Role.viewer).status_code == 200
