"""``/backtest`` over HTTP: submit (202, run id and job), follow, list (paged, filtered),
cancel, result, fills/positions/equity paged and as CSV/Parquet downloads, the HTML report,
two runs compared; refusals as problem details.

The engine is not the point here: the deterministic ``FakeBacktestRunner`` stands in for it
(the run store, index, catalog and registry are the desk's own), except in the one test at
the end that runs the real engine on a tiny synthetic market.
"""

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from fakes import FakeBacktestRunner
from quantdesk.bootstrap import bootstrap
from quantdesk.domain.auth import Role
from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.runs import RunState
from quantdesk.services.synthetic import SyntheticMarketConfig
from support.api_desk import ApiDesk, api_desk, assert_problem
from support.registry import postgres_database, trend


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One instrument, two days of synthetic minute bars (no engine needed to make them)."""
    home = tmp_path_factory.mktemp("backtest-api") / "home"
    bootstrap(home=home).synthetic.synthesize(SyntheticMarketConfig(instruments=1, days=2, seed=3))
    return home


@contextmanager
def _desk(
    market: Path, tmp_path: Path, runner: FakeBacktestRunner | None, *, held: bool = False
) -> Iterator[ApiDesk]:
    """A desk of its own over the module's market (its catalog linked), two strategies."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "catalog").symlink_to(market / "catalog")
    with api_desk(home, runner=runner, held=held) as api:
        api.desk.registry.register(trend("trend-a"), "tests")
        api.desk.registry.register(trend("trend-b", fast_period=5), "tests")
        yield api


@pytest.fixture
def api(market: Path, tmp_path: Path) -> Iterator[ApiDesk]:
    with _desk(market, tmp_path, FakeBacktestRunner()) as desk:
        yield desk


@pytest.fixture
def held(market: Path, tmp_path: Path) -> Iterator[ApiDesk]:
    with _desk(market, tmp_path, FakeBacktestRunner(), held=True) as desk:
        yield desk


def submit(api: ApiDesk, as_: dict[str, str] | None = None, **fields: Any) -> str:
    body = {"strategies": ["trend-a"], **fields}
    response = api.post("/backtest", as_=as_, json=body)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["job"]["kind"] == "backtest"
    assert accepted["job"]["subject"] == accepted["run_id"]
    run_id: str = accepted["run_id"]
    return run_id


def test_a_submitted_run_completes_with_its_state_progress_and_summary(api: ApiDesk) -> None:
    run_id = submit(api, label="first")
    run = api.get(f"/backtest/{run_id}", Role.viewer).json()
    assert (run["state"], run["progress"], run["eta_seconds"]) == ("completed", 100.0, None)
    assert run["strategies"] == ["trend-a@1"]
    assert (run["label"], run["submitted_by"]) == ("first", "admin")
    assert run["job_id"] and run["fingerprint"]
    assert run["summary"]["trade_count"] >= 0


def test_the_result_has_metrics_attribution_execution_quality_and_fingerprint(
    api: ApiDesk,
) -> None:
    run_id = submit(api)
    result = api.get(f"/backtest/{run_id}/result").json()
    assert result["run_id"] == run_id
    assert result["fingerprint"] == api.get(f"/backtest/{run_id}").json()["fingerprint"]
    assert "sharpe" in result["metrics"]
    assert [a["strategy_id"] for a in result["attribution"]]
    assert isinstance(result["execution_quality"], list)
    assert result["request"]["strategies"] == ["trend-a@1"]


def test_fills_positions_and_equity_are_paged(api: ApiDesk) -> None:
    run_id = submit(api)
    for kind in ("fills", "positions", "equity"):
        whole = api.get(f"/backtest/{run_id}/{kind}", params={"limit": 500}).json()
        total = whole["total"]
        assert len(whole["items"]) == min(total, 500)
        if total < 2:
            continue
        window = api.get(f"/backtest/{run_id}/{kind}", params={"limit": 1, "offset": 1}).json()
        assert window["items"] == whole["items"][1:2]
        assert window["next_offset"] == (2 if total > 2 else None)
    curve = api.get(f"/backtest/{run_id}/equity", params={"limit": 5}).json()["items"]
    assert curve and all(-1.0 <= p["drawdown"] <= 0.0 for p in curve)


def test_fills_download_as_csv_and_parquet_hold_every_row(api: ApiDesk) -> None:
    run_id = submit(api)
    total = api.get(f"/backtest/{run_id}/fills").json()["total"]
    assert total > 0, "the fake runner fills orders"
    as_csv = api.get(f"/backtest/{run_id}/fills", params={"format": "csv"})
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert f"{run_id}-fills.csv" in as_csv.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(rows) == total
    assert {"ts_ns", "price", "quantity", "strategy_id"} <= set(rows[0])
    as_parquet = api.get(f"/backtest/{run_id}/equity", params={"format": "parquet"})
    assert as_parquet.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(as_parquet.content))
    assert table.num_rows == api.get(f"/backtest/{run_id}/equity").json()["total"]
    assert_problem(api.get(f"/backtest/{run_id}/fills", params={"format": "xlsx"}), 422)


def test_the_report_is_html(api: ApiDesk) -> None:
    run_id = submit(api)
    report = api.get(f"/backtest/{run_id}/report")
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/html")
    assert run_id in report.text


def test_two_runs_of_one_request_compare_identical(api: ApiDesk) -> None:
    a, b = submit(api, seed=1), submit(api, seed=1)
    other = submit(api, strategies=["trend-b"])
    same = api.get("/backtest/compare", params={"a": a, "b": b}).json()
    assert (same["same_fingerprint"], same["same_fills"]) == (True, True)
    assert (same["a"]["run_id"], same["b"]["run_id"]) == (a, b)
    names = {m["name"] for m in same["metrics"]}
    assert {"sharpe", "total_return", "max_drawdown"} <= names
    differ = api.get("/backtest/compare", params={"a": a, "b": other}).json()
    assert differ["same_fingerprint"] is False
    assert_problem(api.get("/backtest/compare", params={"a": a}), 422)
    assert_problem(api.get("/backtest/compare", params={"a": a, "b": "nope"}), 404)


def test_runs_are_listed_newest_first_paged_and_filtered(api: ApiDesk) -> None:
    first = submit(api, label="one")
    second = submit(api, api.other_user(), strategies=["trend-b"], label="two")
    third = submit(api, label="one")
    page = api.get("/backtest", params={"limit": 2}).json()
    assert (page["total"], page["next_offset"]) == (3, 2)
    rest = api.get("/backtest", params={"limit": 2, "offset": 2}).json()
    assert [r["run_id"] for r in page["items"] + rest["items"]] == [third, second, first]

    def ids(**params: object) -> list[str]:
        return [r["run_id"] for r in api.get("/backtest", params=params).json()["items"]]

    assert ids(label="one") == [third, first]
    assert ids(strategy="trend-b") == [second]
    assert ids(submitted_by="trader-user") == [second]
    assert ids(state="completed") == [third, second, first]
    assert ids(state="failed") == []
    created = api.get(f"/backtest/{second}").json()["created_ns"]
    assert ids(since_ns=created) == [third, second]
    assert ids(until_ns=created - 1) == [first]
    assert_problem(api.get("/backtest", params={"state": "sleeping"}), 422)
    assert_problem(api.get("/backtest", params={"since_ns": -1}), 422)


def test_a_refused_request_is_a_problem_and_stores_no_run(api: ApiDesk) -> None:
    body = assert_problem(
        api.post("/backtest", json={"strategies": ["trend-a"], "start_ns": 10, "end_ns": 5}), 422
    )
    assert any(e["field"] == "body.start_ns" for e in body["errors"])
    assert_problem(api.post("/backtest", json={"strategies": []}), 422)
    twice = {"strategies": ["trend-a", "trend-a"]}
    assert_problem(api.post("/backtest", json=twice), 422)
    assert_problem(api.post("/backtest", json={"strategies": ["nope"]}), 404)
    assert_problem(api.post("/backtest", json={"strategies": ["trend-a"], "engine": {}}), 422)
    assert api.get("/backtest").json()["total"] == 0


def test_an_unknown_run_is_404_and_a_malformed_id_422(api: ApiDesk) -> None:
    for run_id in ("nope", "x" * 100):
        for tail in ("", "/result", "/fills", "/report", "/cancel"):
            call = api.post if tail == "/cancel" else api.get
            assert_problem(call(f"/backtest/{run_id}{tail}"), 404, "run_not_found")
    for run_id in (".hidden", "a" * 101, "a b", "-x"):
        assert_problem(api.get(f"/backtest/{run_id}"), 422)


def test_a_pending_run_has_no_result_and_can_be_cancelled(held: ApiDesk) -> None:
    run_id = submit(held)
    run = held.get(f"/backtest/{run_id}").json()
    assert (run["state"], run["progress"]) == ("pending", 0.0)
    for tail in ("/result", "/fills", "/report"):
        assert_problem(held.get(f"/backtest/{run_id}{tail}"), 409, "run_not_completed")
    cancelled = held.post(f"/backtest/{run_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    assert_problem(held.post(f"/backtest/{run_id}/cancel"), 409, "job_state")


def test_a_run_without_a_job_cannot_be_cancelled(held: ApiDesk) -> None:
    local = held.desk.backtests.submit(
        _request("trend-a"), submitted_by="cli-user"
    )  # as the CLI's own runs are: no job
    assert local.state is RunState.PENDING
    assert_problem(held.post(f"/backtest/{local.run_id}/cancel"), 409, "run_has_no_job")


def _request(*refs: str) -> BacktestRequest:
    return BacktestRequest(strategies=list(refs))


def test_the_real_engine_runs_a_submitted_backtest(market: Path, tmp_path: Path) -> None:
    with _desk(market, tmp_path, None) as api:
        run_id = submit(api, label="engine")
        run = api.get(f"/backtest/{run_id}").json()
        assert run["state"] == "completed", run
        result = api.get(f"/backtest/{run_id}/result").json()
        assert result["facts"]["bars"] > 0
        assert result["facts"]["nautilus_trader_version"]
        fills = api.get(f"/backtest/{run_id}/fills").json()
        assert fills["total"] == result["facts"]["fills"]


@pytest.mark.services
def test_runs_are_submitted_listed_and_read_on_postgresql(market: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "catalog").symlink_to(market / "catalog")
    with (
        postgres_database() as url,
        api_desk(home, runner=FakeBacktestRunner(), database_url=url) as api,
    ):
        api.desk.registry.register(trend("trend-a"), "tests")
        first, second = submit(api, label="one"), submit(api, label="two")
        listed = api.get("/backtest", params={"limit": 1}).json()
        assert (listed["total"], listed["items"][0]["run_id"]) == (2, second)
        assert [
            r["run_id"] for r in api.get("/backtest", params={"label": "one"}).json()["items"]
        ] == [first]
        assert api.get(f"/backtest/{first}/result").json()["run_id"] == first
        assert api.get(f"/backtest/{first}/fills").json()["total"] == 2


def test_the_request_id_travels_into_the_run_and_its_job(api: ApiDesk) -> None:
    headers = {**api.headers(), "X-Request-ID": "client-req-0001"}
    response = api.client.post(
        "/api/v1/backtest", headers=headers, json={"strategies": ["trend-a"]}
    )
    assert response.headers["X-Request-ID"] == "client-req-0001"
    accepted = response.json()
    assert accepted["job"]["correlation_id"] == "client-req-0001"
    assert api.get(f"/backtest/{accepted['run_id']}").json()["correlation_id"] == "client-req-0001"
