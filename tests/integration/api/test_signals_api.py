"""/signals over a real desk: one signal on the live path, a batch through the file path
(each bad record answered with its reason and counted as the CLI counts), the buffer's
views, dead letters and their replay, the flag and the permissions."""

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from quantdesk.adapters.storage.signal_files import JsonLinesDeadLetterStore
from quantdesk.domain.auth import Role
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.signal_routing import DeadLetter
from support.desk_api import DeskApi, assert_problem, desk_api
from support.signals import raw_signal, signal


@pytest.fixture
def api(tmp_path: Path) -> Iterator[DeskApi]:
    with desk_api(tmp_path / "home") as made:
        made.desk.instruments.add(
            InstrumentSpec(
                instrument_id="ACME.XNAS",
                asset_class=AssetClass.EQUITY,
                currency="USD",
                tick_size=Decimal("0.01"),
            )
        )
        yield made


def stats(api: DeskApi) -> dict[str, Any]:
    rows = api.get("/signals/stats").json()
    return {
        "accepted": sum(r["accepted"] for r in rows),
        "rejected": {k: v for r in rows for k, v in r["rejected"].items()},
    }


def test_one_signal_is_routed_buffered_and_readable(api: DeskApi) -> None:
    record = raw_signal()
    posted = api.post("/signals", role=Role.researcher, json=record)
    assert posted.status_code == 201, posted.text
    body = posted.json()
    assert body["signal"]["signal_id"] == record["signal_id"]
    assert body["consumers"] == [] and body["correlation_id"] == posted.headers["x-request-id"]
    shown = api.get(f"/signals/{record['signal_id']}").json()
    assert shown == body["signal"]
    assert api.get("/signals").json()["total"] == 1
    assert stats(api)["accepted"] == 1
    again = api.post("/signals", json=record)  # the same id again: turned away, counted
    problem = assert_problem(again, 422, "signal_rejected")
    assert problem["data"]["reason"] == "duplicate_id"
    assert_problem(api.get("/signals/not-a-signal"), 404)


def test_a_rejected_signal_names_its_reason_and_is_counted(api: DeskApi) -> None:
    bad = raw_signal(instrument_id="NOPE.XNAS")
    problem = assert_problem(api.post("/signals", json=bad), 422, "signal_rejected")
    assert problem["data"] == {"reason": "unknown_instrument", "field": "instrument_id"}
    assert stats(api)["rejected"] == {"unknown_instrument": 1}
    assert api.get("/signals").json()["total"] == 0


def test_a_batch_answers_each_bad_record_and_counts_like_the_cli(
    api: DeskApi, tmp_path: Path
) -> None:
    records = [
        raw_signal(),
        raw_signal(instrument_id="NOPE.XNAS"),
        raw_signal(confidence=1.5),
        raw_signal(),
        {"not": "a signal"},
    ]
    done = api.post("/signals/batch", role=Role.researcher, json={"records": records})
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["records_read"], body["accepted"], body["rejected"]) == (5, 2, 3)
    assert [(r["index"], r["reason"]) for r in body["rejections"]] == [
        (1, "unknown_instrument"),
        (2, "bad_confidence"),
        (4, "unknown_type"),
    ]
    assert body["rejected_by_reason"] == {
        "bad_confidence": 1,
        "unknown_type": 1,
        "unknown_instrument": 1,
    }
    assert stats(api) == {"accepted": 2, "rejected": body["rejected_by_reason"]}
    again = api.post("/signals/batch", role=Role.researcher, json={"records": records}).json()
    assert (again["accepted"], again["already_buffered"], again["already_rejected"]) == (0, 2, 3)
    assert stats(api)["rejected"] == {**body["rejected_by_reason"], "duplicate_id": 2}
    # the CLI's file ingest of the same records on another desk counts alike
    with desk_api(tmp_path / "other") as other:
        other.desk.instruments.add(api.desk.instruments.get("ACME.XNAS"))
        path = tmp_path / "same.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        summary = other.desk.signals.ingest_file(path)
        assert (summary.accepted, summary.rejected) == (2, 3)
        assert summary.rejected_by_reason == body["rejected_by_reason"]
        twice = other.desk.signals.ingest_file(path)
        assert (twice.accepted, twice.already_buffered, twice.already_rejected) == (0, 2, 3)
        assert stats(other) == stats(api)
    # another caller is another source (as another file is): its rejects are its own
    other_caller = api.post("/signals/batch", role=Role.trader, json={"records": records})
    assert_problem(other_caller, 422, "nothing_valid")


def test_a_batch_with_nothing_valid_lists_every_record(api: DeskApi) -> None:
    records = [raw_signal(instrument_id="NOPE.XNAS"), raw_signal(confidence=-1)]
    problem = assert_problem(api.post("/signals/batch", json={"records": records}), 422)
    assert problem["code"] == "nothing_valid"
    assert [e["field"] for e in problem["errors"]] == [
        "records.0.instrument_id",
        "records.1.confidence",
    ]
    assert problem["errors"][0]["message"].startswith("unknown_instrument")
    assert stats(api)["rejected"] == {"bad_confidence": 1, "unknown_instrument": 1}


def test_batch_bounds(api: DeskApi) -> None:
    assert_problem(api.post("/signals/batch", json={"records": []}), 422, "invalid_input")
    many = {"records": [{"a": 1}] * 1001}
    assert_problem(api.post("/signals/batch", json=many), 422, "invalid_input")
    wide = {"records": [{f"k{n}": n for n in range(65)}]}
    assert_problem(api.post("/signals/batch", json=wide), 422, "invalid_input")
    assert_problem(api.post("/signals", json=[raw_signal()]), 422, "invalid_input")


def test_the_flag_and_the_roles_gate_ingest(api: DeskApi) -> None:
    api.parts.flags.off.add("signals_http_ingest")
    problem = assert_problem(api.post("/signals", json=raw_signal()), 403, "feature_disabled")
    assert problem["data"] == {"flag": "signals_http_ingest"}
    batch = {"records": [raw_signal()]}
    assert_problem(api.post("/signals/batch", json=batch), 403, "feature_disabled")
    assert api.get("/signals").status_code == 200  # reads are not gated
    api.parts.flags.off.clear()
    assert_problem(api.post("/signals", json=raw_signal(), role=Role.viewer), 403, "forbidden")
    assert api.post("/signals", json=raw_signal(), role=Role.researcher).status_code == 201


def test_list_pages_and_filters(api: DeskApi) -> None:
    base = raw_signal()["ts_event"]
    records = [raw_signal(ts_event=base + n * 10**9) for n in range(5)]
    records.append(raw_signal(signal_type="REGIME_PREDICTION", ts_event=base + 10**10))
    assert api.post("/signals/batch", json={"records": records}).json()["accepted"] == 6
    page = api.get("/signals", params={"limit": 2, "offset": 2}).json()
    assert page["total"] == 6 and page["next_offset"] == 4
    assert [s["signal_id"] for s in page["items"]] == [r["signal_id"] for r in records[2:4]]
    sentiment = api.get("/signals", params={"signal_type": "sentiment", "limit": 3}).json()
    assert sentiment["total"] == 5 and len(sentiment["items"]) == 3
    timed = {"start_ns": records[1]["ts_init"], "end_ns": records[3]["ts_init"], "limit": 1}
    assert api.get("/signals", params=timed).json()["total"] == 3
    assert api.get("/signals", params={"instrument_id": "ACME.XNAS"}).json()["total"] == 6
    assert_problem(api.get("/signals", params={"signal_type": "NOPE"}), 422)
    assert_problem(api.get("/signals", params={"start_ns": -1}), 422)


def test_dead_letters_list_and_replay(api: DeskApi, tmp_path: Path) -> None:
    letter = DeadLetter(
        dead_letter_id="dl-1",
        consumer_id="desk-strategy",
        signal=signal(),
        correlation_id="c-1",
        reason="handler failed",
        attempts=3,
        dead_lettered_at_ns=1,
    )
    JsonLinesDeadLetterStore(tmp_path / "home" / "signals" / "dead_letters.jsonl").put(letter)
    listed = api.get("/signals/dead-letters").json()
    assert listed["total"] == 1 and listed["items"][0]["reason"] == "handler failed"
    # the in-process bus reaches only a consumer of this process
    refused = api.post("/signals/dead-letters/dl-1/replay", role=Role.researcher)
    assert_problem(refused, 422, "invalid_input")
    api.desk.signal_router.consumer("desk-strategy", lambda envelope: None)
    replayed = api.post("/signals/dead-letters/dl-1/replay", role=Role.researcher)
    assert replayed.status_code == 200, replayed.text
    assert [d["dead_letter_id"] for d in replayed.json()] == ["dl-1"]
    assert api.get("/signals/dead-letters").json()["total"] == 0
    every = api.get("/signals/dead-letters", params={"include_replayed": True}).json()
    assert every["items"][0]["replayed_at_ns"] is not None
    assert_problem(api.post("/signals/dead-letters/dl-1/replay"), 404)
    assert_problem(api.post("/signals/dead-letters/dl-2/replay", role=Role.viewer), 403)
