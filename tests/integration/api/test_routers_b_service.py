"""/signals, /risk, /data and /audit over the desk's real service parts (auth with API keys,
database flags, the job service running each job as it is submitted, the event hub): what
the routes do end to end, beside the focused tests on a desk with fake auth."""

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from quantdesk.domain.auth import Role
from quantdesk.domain.feature_flags import FlagUpdate
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from support.api_desk import ApiDesk, api_desk, assert_problem
from support.bars import rows
from support.signals import raw_signal


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiDesk]:
    with api_desk(tmp_path / "home") as made:
        made.desk.instruments.add(
            InstrumentSpec(
                instrument_id="ACME.XNAS",
                asset_class=AssetClass.EQUITY,
                currency="USD",
                tick_size=Decimal("0.01"),
            )
        )
        yield made


def test_a_bar_upload_runs_as_a_job_and_its_rejects_download(api: ApiDesk) -> None:
    source = rows(4)
    source[1][1] = "oops"
    text = "timestamp,open,high,low,close,volume\n" + "".join(
        ",".join(map(str, row)) + "\n" for row in source
    )
    posted = api.post(
        "/data/uploads/bars",
        data={"instrument_id": "ACME.XNAS", "bar_spec": "1-MINUTE-LAST"},
        files={"file": ("bars.csv", text.encode(), "text/csv")},
    )
    assert posted.status_code == 202, posted.text
    job = api.get(f"/jobs/{posted.json()['job']['job_id']}").json()
    assert job["state"] == "completed", job
    ingest_id = job["result"]["ingest_id"]
    assert api.get(f"/data/ingests/{ingest_id}").json()["rows_written"] == 3
    assert api.get(f"/data/ingests/{ingest_id}/rejects").text.startswith("row,field")
    assert list((api.desk.home / "uploads").iterdir()) == []  # the job removed its upload


def test_the_database_flag_gates_signal_ingest_at_once(api: ApiDesk) -> None:
    assert api.post("/signals", json=raw_signal()).status_code == 201
    flags = api.desk.service.flags
    flags.set("signals_http_ingest", FlagUpdate(enabled=False, reason="pause"), actor="admin")
    assert_problem(api.post("/signals", json=raw_signal()), 403, "feature_disabled")
    flags.set("signals_http_ingest", FlagUpdate(enabled=True, reason="resume"), actor="admin")
    batch = {"records": [raw_signal(), raw_signal(instrument_id="NOPE.XNAS")]}
    done = api.post("/signals/batch", json=batch).json()
    assert (done["accepted"], done["rejected"]) == (1, 1)
    assert api.get("/signals").json()["total"] == 2


def test_kill_switch_limits_and_the_audit_chain(api: ApiDesk) -> None:
    limits = {"limits": {"max_leverage": "3"}, "reason": "open"}
    assert api.put("/risk/limits", Role.trader, json=limits).json()["version"] == 1
    thrown = api.post("/risk/kill-switch", Role.trader, json={"reason": "drill"})
    assert thrown.status_code == 201, thrown.text
    assert api.get("/risk/kill-switch").json()["portfolio_halted"] is True
    assert api.post("/risk/kill-switch/release", Role.trader, json={}).status_code == 200
    kinds = [e["kind"] for e in api.get("/risk/events").json()["items"]]
    assert kinds == ["limits_set", "kill_switch_thrown", "kill_switch_released"]
    actions = [e["action"] for e in api.get("/audit", params={"limit": 500}).json()["items"]]
    for action in ("risk-set_limits", "risk_limits_set", "risk-throw_kill_switch"):
        assert action in actions
    verified = api.get("/audit/verify").json()
    assert verified["holds"] is True, verified["breaks"]
    alerts = [e for e in api.desk.service.events.history() if e.type == "risk_alert"]
    assert len(alerts) == 2  # thrown, released: one each (the risk service's listener)


def test_secrets_never_reach_the_audit_log(api: ApiDesk) -> None:
    api.post("/signals/batch", json={"records": [raw_signal(metadata={"note": "s3cr3t"})]})
    events = api.get("/audit", params={"limit": 500}).json()["items"]
    text = json.dumps(events)
    assert "s3cr3t" not in text  # bodies are audited by digest only
    for token in api.tokens.values():
        assert token not in text
