"""``/strategies`` over HTTP on a real SQLite registry: register, update, show by id, version
and tag, list (paged, filtered), history, diff, tag, deprecate, validate as a job, export and
the family schemas; refusals as problem details (404, 409, 422)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from quantdesk.domain.auth import Role
from quantdesk.domain.feature_flags import FlagUpdate
from quantdesk.domain.strategies.families import StrategyFamily
from support.api_desk import ApiDesk, api_desk, assert_problem, document
from support.registry import postgres_database, trend


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiDesk]:
    with api_desk(tmp_path / "home") as desk:
        yield desk


def register(api: ApiDesk, strategy_id: str = "trend-a", **params: object) -> dict[str, object]:
    response = api.post("/strategies", json={"definition": document(trend(strategy_id, **params))})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def test_register_stores_version_one_and_the_same_content_again_changes_nothing(
    api: ApiDesk,
) -> None:
    body = register(api)
    assert body["created"] is True
    strategy = body["strategy"]
    assert isinstance(strategy, dict)
    assert strategy["ref"] == "trend-a@1"
    assert strategy["author"] == "admin"
    assert strategy["created_ns"] > 1_700_000_000 * 10**9
    assert strategy["definition"]["parameters"]["fast_period"] == 10

    again = api.post("/strategies", json={"definition": document(trend("trend-a"))})
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert again.json()["strategy"]["version"] == 1


def test_register_of_other_content_under_a_taken_id_is_a_conflict(api: ApiDesk) -> None:
    register(api)
    response = api.post(
        "/strategies", json={"definition": document(trend("trend-a", fast_period=12))}
    )
    assert_problem(response, 409)


def test_an_invalid_definition_is_422_naming_the_field_without_echoing_it(api: ApiDesk) -> None:
    bad = {**document(trend("trend-a")), "family": "astrology", "name": "secret-sauce-123"}
    response = api.post("/strategies", json={"definition": bad})
    body = assert_problem(response, 422, "invalid_input")
    assert any("family" in error["field"] for error in body["errors"])
    assert "secret-sauce-123" not in response.text


def test_update_makes_the_next_version(api: ApiDesk) -> None:
    register(api)
    response = api.put(
        "/strategies/trend-a",
        json={"definition": document(trend("trend-a", fast_period=12)), "reason": "faster"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["strategy"]["ref"] == "trend-a@2"
    assert response.json()["strategy"]["reason"] == "faster"


def test_update_refuses_a_definition_of_another_strategy_and_an_unknown_one(
    api: ApiDesk,
) -> None:
    register(api)
    other = {"definition": document(trend("trend-b"))}
    assert_problem(api.put("/strategies/trend-a", json=other), 422, "strategy_id_mismatch")
    assert_problem(api.put("/strategies/trend-b", json=other), 404)


def test_show_by_id_version_and_tag(api: ApiDesk) -> None:
    register(api)
    api.put("/strategies/trend-a", json={"definition": document(trend("trend-a", fast_period=12))})
    assert api.put("/strategies/trend-a/tags/paper", json={"version": 1}).status_code == 200

    assert api.get("/strategies/trend-a", Role.viewer).json()["version"] == 2
    assert api.get("/strategies/trend-a@1", Role.viewer).json()["version"] == 1
    tagged = api.get("/strategies/trend-a@paper", Role.viewer).json()
    assert (tagged["version"], tagged["tags"]) == (1, ["paper"])


def test_a_malformed_reference_is_422(api: ApiDesk) -> None:
    for ref in ("Trend A", "trend-a@", "trend-a@Bad Tag", "x" * 121, "a@0", "a@99999999999"):
        assert_problem(api.get(f"/strategies/{ref}"), 422)


def test_unknown_strategy_version_and_tag_are_404(api: ApiDesk) -> None:
    register(api)
    for ref in ("nope", "trend-a@7", "trend-a@paper"):
        assert_problem(api.get(f"/strategies/{ref}"), 404)


def test_list_is_paged(api: ApiDesk) -> None:
    for name in ("trend-a", "trend-b", "trend-c"):
        register(api, name)
    first = api.get("/strategies", params={"limit": 2}).json()
    assert (first["total"], first["limit"], first["offset"], first["next_offset"]) == (3, 2, 0, 2)
    second = api.get("/strategies", params={"limit": 2, "offset": 2}).json()
    assert second["next_offset"] is None
    ids = [s["strategy_id"] for s in first["items"] + second["items"]]
    assert sorted(ids) == ["trend-a", "trend-b", "trend-c"]
    assert_problem(api.get("/strategies", params={"limit": 0}), 422)
    assert_problem(api.get("/strategies", params={"limit": 501}), 422)


def test_list_filters_by_family_tag_text_and_deprecation(api: ApiDesk) -> None:
    for name in ("trend-a", "trend-b", "slow-c"):
        register(api, name)
    api.put("/strategies/trend-b/tags/paper", json={"version": 1})
    api.post("/strategies/slow-c@1/deprecate", json={"reason": "retired"})

    def ids(**params: object) -> list[str]:
        found = api.get("/strategies", params=params).json()["items"]
        return sorted(s["strategy_id"] for s in found)

    assert ids() == ["trend-a", "trend-b"]
    assert ids(include_deprecated=True) == ["slow-c", "trend-a", "trend-b"]
    assert ids(tag="paper") == ["trend-b"]
    assert ids(q="b", include_deprecated=True) == ["trend-b"]
    assert ids(family="mean_reversion") == []
    assert ids(family="trend_following") == ["trend-a", "trend-b"]
    assert_problem(api.get("/strategies", params={"family": "astrology"}), 422)


def test_history_and_diff(api: ApiDesk) -> None:
    register(api)
    api.put("/strategies/trend-a", json={"definition": document(trend("trend-a", fast_period=12))})
    history = api.get("/strategies/trend-a/history", params={"limit": 1}).json()
    assert (history["total"], history["items"][0]["version"], history["next_offset"]) == (2, 1, 1)

    diff = api.get("/strategies/trend-a/diff", params={"from_version": 1, "to_version": 2}).json()
    assert diff["changes"] == [
        {"path": "parameters.fast_period", "kind": "changed", "old": 10, "new": 12}
    ]
    missing = api.get("/strategies/trend-a/diff", params={"from_version": 1, "to_version": 9})
    assert_problem(missing, 404)
    assert_problem(api.get("/strategies/trend-a/diff", params={"from_version": 1}), 422)
    assert_problem(api.get("/strategies/nope/history"), 404)
    assert_problem(api.get("/strategies/trend-a@1/history"), 422, "strategy_id_expected")


def test_tag_refuses_a_bad_tag_and_an_unknown_version(api: ApiDesk) -> None:
    register(api)
    assert_problem(api.put("/strategies/trend-a/tags/Bad!", json={"version": 1}), 422)
    assert_problem(api.put("/strategies/trend-a/tags/paper", json={"version": 5}), 404)
    assert_problem(api.put("/strategies/trend-a/tags/paper", json={"version": 0}), 422)


def test_deprecate_needs_a_pinned_reference(api: ApiDesk) -> None:
    register(api)
    assert_problem(api.post("/strategies/trend-a/deprecate", json={}), 422, "ref_not_pinned")
    done = api.post("/strategies/trend-a@1/deprecate", json={"reason": "superseded"})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["deprecated"] is True
    assert body["deprecation"]["reason"] == "superseded"
    assert body["deprecation"]["actor"] == "admin"


def test_families_are_every_family_with_its_parameter_schema(api: ApiDesk) -> None:
    page = api.get("/strategies/families", Role.viewer, params={"limit": 500}).json()
    assert page["total"] == len(StrategyFamily)
    schemas = {item["family"]: item["parameters_schema"] for item in page["items"]}
    assert "fast_period" in schemas["trend_following"]["properties"]
    window = api.get("/strategies/families", params={"limit": 2, "offset": 8}).json()
    assert [i["family"] for i in window["items"]] == [list(StrategyFamily)[8].value]


def test_validate_runs_as_a_job_and_its_outcome_shows_on_the_version(api: ApiDesk) -> None:
    register(api)
    response = api.post("/strategies/trend-a/validate")
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["ref"] == "trend-a@1"
    job = api.get(f"/jobs/{body['job']['job_id']}").json()
    assert (job["kind"], job["state"], job["subject"]) == ("validation", "completed", "trend-a@1")
    outcome = api.get("/strategies/trend-a@1").json()["validation"]
    assert outcome is not None
    assert outcome["ok"] is False  # no bars of SYN01.SIM on this desk
    assert any(p["check"] == "data" for p in outcome["problems"])
    assert_problem(api.post("/strategies/nope/validate"), 404)


def test_export_writes_a_family_version_as_a_module(api: ApiDesk) -> None:
    register(api)
    response = api.get("/strategies/trend-a@1/export", params={"module": "mine.trend"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ref"] == "trend-a@1"
    assert body["strategy_path"].startswith("mine.trend:")
    assert "class " in body["source"]
    assert_problem(api.get("/strategies/trend-a/export", params={"module": "not a module"}), 422)


def test_export_is_refused_while_its_flag_is_off(api: ApiDesk) -> None:
    register(api)
    flags = api.desk.service.flags
    flags.set("strategy_export", FlagUpdate(enabled=False), actor="tests")
    assert_problem(api.get("/strategies/trend-a/export"), 403, "feature_disabled")
    flags.set("strategy_export", FlagUpdate(enabled=True), actor="tests")
    assert api.get("/strategies/trend-a/export").status_code == 200


@pytest.mark.services
def test_the_registry_routes_on_postgresql(tmp_path: Path) -> None:
    with postgres_database() as url, api_desk(tmp_path / "home", database_url=url) as api:
        register(api, "trend-a")
        register(api, "trend-b")
        api.put(
            "/strategies/trend-a", json={"definition": document(trend("trend-a", fast_period=12))}
        )
        assert api.put("/strategies/trend-a/tags/paper", json={"version": 1}).status_code == 200
        assert api.get("/strategies/trend-a@paper").json()["version"] == 1
        assert api.get("/strategies", params={"tag": "paper"}).json()["total"] == 1
        history = api.get("/strategies/trend-a/history").json()
        assert [v["version"] for v in history["items"]] == [1, 2]
        diff = api.get("/strategies/trend-a/diff", params={"from_version": 1, "to_version": 2})
        assert [c["path"] for c in diff.json()["changes"]] == ["parameters.fast_period"]
        api.post("/strategies/trend-b@1/deprecate", json={"reason": "old"})
        assert [s["strategy_id"] for s in api.get("/strategies").json()["items"]] == ["trend-a"]
        job = api.post("/strategies/trend-a/validate").json()["job"]
        assert api.get(f"/jobs/{job['job_id']}").json()["state"] == "completed"
        assert_problem(
            api.post("/strategies", json={"definition": document(trend("trend-b", fast_period=3))}),
            409,
        )
