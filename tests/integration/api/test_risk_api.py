"""/risk over a real desk: limits versioned and audited, kill switches thrown and released
(visible in status and in the audit log), risk events of the desk and of a run."""

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from quantdesk.domain.auth import Role
from quantdesk.domain.risk import RiskEvent, RiskEventKind
from support.desk_api import DeskApi, assert_problem, desk_api

LIMITS = {"max_gross_exposure": "100000", "max_drawdown_pct": "0.2"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[DeskApi]:
    with desk_api(tmp_path / "home") as made:
        yield made


def test_limits_are_versioned_and_audited(api: DeskApi) -> None:
    first = api.get("/risk/limits").json()
    assert first["version"] == 0 and first["limits"]["max_gross_exposure"] is None
    set_ = api.put("/risk/limits", json={"limits": LIMITS, "reason": "desk opens"})
    assert set_.status_code == 200, set_.text
    stored = set_.json()
    assert stored["version"] == 1 and stored["actor"] == "trader"
    assert stored["limits"]["max_gross_exposure"] == "100000"
    assert api.get("/risk/limits").json() == stored
    again = api.put("/risk/limits", json={"limits": LIMITS, "reason": "same"}).json()
    assert again == stored  # the same limits change nothing
    looser = {"limits": {"max_leverage": "2"}, "reason": "looser", "expected_version": 1}
    assert api.put("/risk/limits", json=looser).json()["version"] == 2
    history = api.get("/risk/limits/history", params={"limit": 1}).json()
    assert history["total"] == 2 and [v["version"] for v in history["items"]] == [2]
    assert history["next_offset"] == 1
    audited = api.get("/audit", params={"action": "risk_limits_set"}).json()
    assert [e["payload"]["version"] for e in audited["items"]] == [1, 2]
    assert audited["items"][0]["payload"]["correlation_id"]


def test_limit_refusals_are_problems(api: DeskApi) -> None:
    stale = {"limits": LIMITS, "reason": "stale", "expected_version": 3}
    body = assert_problem(api.put("/risk/limits", json=stale), 409, "risk_limits_changed")
    assert body["data"] == {"current_version": 0, "expected_version": 3}
    for bad in (
        {"limits": {"max_gross_exposure": "-1"}, "reason": "negative"},
        {"limits": {"max_leverage": "NaN"}, "reason": "nan"},
        {"limits": {"no_such_limit": 1}, "reason": "typo"},
        {"limits": LIMITS, "reason": ""},
        {"limits": LIMITS, "reason": "x" * 2001},
        {"limits": LIMITS},
    ):
        assert_problem(api.put("/risk/limits", json=bad), 422, "invalid_input")
    for role in (Role.viewer, Role.researcher):
        ok = {"limits": LIMITS, "reason": "not mine"}
        assert_problem(api.put("/risk/limits", json=ok, role=role), 403, "forbidden")
    assert api.get("/risk/limits").json()["version"] == 0


def test_kill_switch_throw_and_release_show_in_status_and_audit(api: DeskApi) -> None:
    thrown = api.post("/risk/kill-switch", json={"reason": "fat finger"})
    assert thrown.status_code == 201, thrown.text
    assert thrown.json()["actor"] == "trader" and thrown.json()["scope"] == "portfolio"
    strategy = {"scope": "strategy", "target": "ema-btc", "reason": "drift"}
    assert api.post("/risk/kill-switch", json=strategy).status_code == 201
    status = api.get("/risk/kill-switch").json()
    assert status["portfolio_halted"] is True
    assert [s["scope"] for s in status["thrown"]] == ["portfolio", "strategy"]
    released = api.post("/risk/kill-switch/release", json={})
    assert released.status_code == 200, released.text
    assert released.json()["portfolio_halted"] is False
    assert [s["target"] for s in released.json()["thrown"]] == ["ema-btc"]
    assert_problem(api.post("/risk/kill-switch/release", json={}), 404, "kill_switch_not_thrown")
    events = api.get("/audit", params={"subject": "kill-switch/"}).json()["items"]
    assert [e["action"] for e in events] == [
        "risk_kill_switch_thrown",
        "risk_kill_switch_thrown",
        "risk_kill_switch_released",
    ]
    assert events[0]["payload"]["reason"] == "fat finger"
    assert events[1]["subject"] == "kill-switch/strategy/ema-btc"
    assert api.get("/audit/verify").json()["holds"] is True


def test_kill_switch_refusals(api: DeskApi) -> None:
    assert_problem(api.post("/risk/kill-switch", json={"reason": "x"}, role=Role.researcher), 403)
    assert_problem(api.post("/risk/kill-switch", json={"scope": "strategy", "reason": "x"}), 422)
    assert_problem(api.post("/risk/kill-switch", json={"reason": ""}), 422)
    hostile = {"scope": "instrument", "target": "../../etc", "reason": "x"}
    assert_problem(api.post("/risk/kill-switch", json=hostile), 422)
    assert api.get("/risk/kill-switch").json() == {"thrown": [], "portfolio_halted": False}


def test_desk_risk_events_page_and_filter(api: DeskApi) -> None:
    api.put("/risk/limits", json={"limits": LIMITS, "reason": "open"})
    api.post("/risk/kill-switch", json={"reason": "drill"})
    api.post("/risk/kill-switch/release", json={})
    every = api.get("/risk/events").json()
    assert every["total"] == 3
    assert [e["kind"] for e in every["items"]] == [
        "limits_set",
        "kill_switch_thrown",
        "kill_switch_released",
    ]
    assert every["items"][1]["detail"] == "drill" and every["items"][1]["source"] == "desk"
    thrown = api.get("/risk/events", params={"kind": "kill_switch_thrown"}).json()
    assert thrown["total"] == 1 and thrown["items"][0]["actor"] == "trader"
    page = api.get("/risk/events", params={"limit": 1, "offset": 2}).json()
    assert [e["kind"] for e in page["items"]] == ["kill_switch_released"]
    assert_problem(api.get("/risk/events", params={"kind": "exploded"}), 422)


def test_run_risk_events_filter(api: DeskApi, monkeypatch: pytest.MonkeyPatch) -> None:
    events = [
        RiskEvent(
            ts_ns=10 * n,
            kind=kind,
            scope="strategy",
            strategy_id=s,
            rule="max_position",
            detail="d",
        )
        for n, (kind, s) in enumerate(
            [(RiskEventKind.DENY, "a"), (RiskEventKind.REDUCE, "b"), (RiskEventKind.DENY, "b")]
        )
    ]
    run = SimpleNamespace(run_id="run-1", risk_events=events)
    monkeypatch.setattr(api.desk.backtests, "result", lambda run_id: run)
    every = api.get("/risk/events", params={"run_id": "run-1"}).json()
    assert every["total"] == 3 and {e["source"] for e in every["items"]} == {"run"}
    denials = api.get("/risk/events", params={"run_id": "run-1", "kind": "deny"}).json()
    assert [e["strategy_id"] for e in denials["items"]] == ["a", "b"]
    late = {"run_id": "run-1", "strategy_id": "b", "since_ns": 15, "until_ns": 21}
    assert [e["kind"] for e in api.get("/risk/events", params=late).json()["items"]] == ["deny"]
    exclusive = {**late, "until_ns": 20}
    assert api.get("/risk/events", params=exclusive).json()["total"] == 0
    assert_problem(api.get("/risk/events", params={"run_id": "run-1", "kind": "limits_set"}), 422)
