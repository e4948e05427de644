"""/data over a real desk: instruments, catalog and lineage, uploads of bar and signal files
as ingest jobs (bounded, stored under the service's own names whatever the client calls
them), and the ingests' summaries and rejects as downloads."""

import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import JsonValue

from quantdesk.domain.auth import Role
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.jobs import JobKind
from quantdesk.services import job_handlers
from support.bars import rows
from support.desk_api import DeskApi, assert_problem, desk_api
from support.signals import raw_signal

ACME = InstrumentSpec(
    instrument_id="ACME.XNAS",
    asset_class=AssetClass.EQUITY,
    currency="USD",
    tick_size=Decimal("0.01"),
)
FORM = {"instrument_id": "ACME.XNAS", "bar_spec": "1-MINUTE-LAST"}


class SilentChannel:
    def progress(self, progress: Any) -> None:
        pass

    def event(
        self, type: str, payload: Mapping[str, JsonValue], *, subject: str | None = None
    ) -> None:
        pass


@pytest.fixture
def api(tmp_path: Path) -> Iterator[DeskApi]:
    with desk_api(tmp_path / "home", upload_max_bytes=64 * 1024) as made:
        made.desk.instruments.add(ACME)
        yield made


def bars_csv(source: list[list[Any]]) -> bytes:
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [",".join(str(v) for v in row) for row in source]
    return ("\n".join(lines) + "\n").encode()


def uploads(api: DeskApi) -> list[Path]:
    folder = api.settings.uploads_dir
    return sorted(folder.iterdir()) if folder.exists() else []


def run_job(api: DeskApi) -> dict[str, JsonValue]:
    """The submitted job's handler, run here on the desk (what a worker does)."""
    job = api.parts.jobs.submitted[-1]
    handler = job_handlers.HANDLERS[job.kind]
    return dict(handler(api.desk, job.payload, SilentChannel()))


def test_instruments_page_filter_and_show(api: DeskApi) -> None:
    api.desk.instruments.add(ACME.model_copy(update={"instrument_id": "ACMF.XNAS"}))
    fx = InstrumentSpec(
        instrument_id="EUR/USD.SIM",
        asset_class=AssetClass.FX,
        currency="USD",
        base_currency="EUR",
        tick_size=Decimal("0.00001"),
    )
    api.desk.instruments.add(fx)
    page = api.get("/data/instruments", params={"limit": 2}).json()
    assert page["total"] == 3 and page["next_offset"] == 2
    assert [i["instrument_id"] for i in page["items"]] == ["ACME.XNAS", "ACMF.XNAS"]
    fx_only = api.get("/data/instruments", params={"asset_class": "fx"}).json()
    assert [i["instrument_id"] for i in fx_only["items"]] == ["EUR/USD.SIM"]
    assert api.get("/data/instruments", params={"q": "ACMF"}).json()["total"] == 1
    assert api.get("/data/instruments/ACME.XNAS").json()["tick_size"] == "0.01"
    assert_problem(api.get("/data/instruments/NOPE.XNAS"), 404)
    assert_problem(api.get("/data/instruments", params={"asset_class": "gold"}), 422)


def test_a_bar_upload_is_an_ingest_job_with_downloadable_rejects(api: DeskApi) -> None:
    source = rows(6)
    source[2][1] = "oops"  # one row rejected
    posted = api.post(
        "/data/uploads/bars",
        role=Role.researcher,
        data=FORM,
        files={"file": ("acme minute bars.csv", bars_csv(source), "text/csv")},
    )
    assert posted.status_code == 202, posted.text
    body = posted.json()
    assert body["job"]["kind"] == JobKind.INGEST_BARS and body["job"]["state"] == "pending"
    assert body["job"]["submitted_by"] == "researcher" and body["bytes"] == len(bars_csv(source))
    payload = body["job"]["payload"]
    assert payload["instrument_id"] == "ACME.XNAS" and payload["bar_spec"] == "1-MINUTE-LAST"
    stored = Path(payload["path"])
    assert stored.parent == api.settings.uploads_dir and stored.read_bytes() == bars_csv(source)
    assert stored.name.endswith(".csv") and "acme" not in stored.name
    result = run_job(api)
    assert (result["rows_written"], result["rows_rejected"]) == (5, 1)
    assert not stored.exists()  # the job removes its upload
    ingest_id = str(result["ingest_id"])
    summary = api.get(f"/data/ingests/{ingest_id}").json()
    assert summary["rows_read"] == 6 and summary["rejected_by_reason"] == {"value_not_a_number": 1}
    rejects = api.get(f"/data/ingests/{ingest_id}/rejects")
    assert rejects.status_code == 200 and rejects.headers["content-type"].startswith("text/csv")
    assert "attachment" in rejects.headers["content-disposition"]
    lines = rejects.text.splitlines()
    assert lines[0] == "row,field,value,reason,detail" and lines[1].startswith("4,open,oops")
    catalog = api.get("/data/catalog").json()
    assert [(e["instrument_id"], e["count"]) for e in catalog["items"]] == [("ACME.XNAS", 5)]
    assert api.get("/data/catalog", params={"data_type": "nope"}).json()["total"] == 0
    lineage = api.get("/data/lineage", params={"instrument_id": "ACME.XNAS"}).json()
    assert [r["ingest_id"] for r in lineage["items"]] == [ingest_id]


@pytest.mark.parametrize(
    "filename",
    ["../../../../etc/cron.d/evil.csv", "..\\..\\windows\\evil.csv", "/abs/evil.csv", "a\x00b.csv"],
)
def test_a_hostile_filename_never_chooses_where_the_file_goes(
    api: DeskApi, filename: str, tmp_path: Path
) -> None:
    posted = api.post(
        "/data/uploads/bars", data=FORM, files={"file": (filename, bars_csv(rows(2)), "text/csv")}
    )
    assert posted.status_code == 202, posted.text
    stored = Path(posted.json()["job"]["payload"]["path"])
    assert stored.parent == api.settings.uploads_dir and stored.suffix == ".csv"
    assert [p.name for p in uploads(api)] == [stored.name]
    assert not (tmp_path / "etc").exists()


@pytest.mark.parametrize("filename", ["evil", "bars.exe", ".csv", "bars.csv.exe", ""])
def test_an_unknown_file_type_is_refused_and_nothing_is_kept(api: DeskApi, filename: str) -> None:
    posted = api.post("/data/uploads/bars", data=FORM, files={"file": (filename, b"x", "text/csv")})
    assert posted.status_code == 422, posted.text
    assert uploads(api) == [] and api.parts.jobs.submitted == []


def test_the_upload_bound_holds(api: DeskApi) -> None:
    big = b"t" * (api.settings.upload_max_bytes + 1)
    posted = api.post("/data/uploads/bars", data=FORM, files={"file": ("b.csv", big, "text/csv")})
    body = assert_problem(posted, 413)
    assert body["code"] == "payload_too_large"
    assert uploads(api) == [] and api.parts.jobs.submitted == []


def test_bad_forms_are_refused_before_anything_is_stored(api: DeskApi) -> None:
    file = {"file": ("b.csv", bars_csv(rows(2)), "text/csv")}
    cases: list[tuple[dict[str, str], int]] = [
        ({**FORM, "instrument_id": "NOPE.XNAS"}, 404),
        ({**FORM, "instrument_id": "../x"}, 422),
        ({**FORM, "bar_spec": "every-now-and-then"}, 422),
        ({**FORM, "options": "{not json"}, 422),
        ({**FORM, "options": json.dumps({"columns": {"nonsense": "x"}})}, 422),
        ({"bar_spec": "1-MINUTE-LAST"}, 422),
    ]
    for form, status in cases:
        assert_problem(api.post("/data/uploads/bars", data=form, files=file), status)
    assert_problem(api.post("/data/uploads/bars", data=FORM, files=file, role=Role.viewer), 403)
    assert_problem(api.post("/data/uploads/bars", data=FORM), 422)  # no file
    assert uploads(api) == [] and api.parts.jobs.submitted == []


def test_a_signal_upload_is_an_ingest_job_through_the_gate(api: DeskApi) -> None:
    records = [raw_signal(), raw_signal(instrument_id="NOPE.XNAS")]
    text = "".join(json.dumps(r) + "\n" for r in records).encode()
    posted = api.post(
        "/data/uploads/signals", files={"file": ("my signals.jsonl", text, "application/json")}
    )
    assert posted.status_code == 202, posted.text
    assert posted.json()["job"]["kind"] == JobKind.INGEST_SIGNALS
    result = run_job(api)
    assert (result["accepted"], result["rejected"]) == (1, 1)
    batch_id = Path(str(result["rejects_path"])).stem
    rejects = api.get(f"/data/ingests/{batch_id}/rejects")
    assert rejects.status_code == 200
    assert [json.loads(line)["reason"] for line in rejects.text.splitlines()] == [
        "unknown_instrument"
    ]
    assert api.get("/signals").json()["total"] == 1


def test_ingest_ids_that_name_nothing(api: DeskApi) -> None:
    for ingest_id in ("20240101T000000Z-deadbeef", "..", "x" * 64, "ingest-20240101T000000Z-00"):
        assert_problem(api.get(f"/data/ingests/{ingest_id}"), 404)
        assert_problem(api.get(f"/data/ingests/{ingest_id}/rejects"), 404)
    assert_problem(api.get("/data/ingests/..%2F..%2Fquantdesk.db/rejects"), 404)
