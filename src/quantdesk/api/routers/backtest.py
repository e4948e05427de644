"""``/backtest``: submit runs as jobs, follow them, read and download what they produced.

A run exists from submission on (pending, with its job); state comes from the run index,
progress and ETA from its job while it runs. Results and artifacts are read from the run
store only once the run has completed.
"""

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, Response, StreamingResponse
from pydantic import ValidationError

from quantdesk.api.deps import Paged, allow, parts, platform
from quantdesk.api.pagination import Page, PageParams, page_of
from quantdesk.api.schemas.backtest import (
    RUN_ID_MAX_LENGTH,
    RUN_ID_PATTERN,
    ArtifactFormat,
    BacktestAccepted,
    BacktestCreate,
    EquityPoint,
    FillOut,
    PositionOut,
    RunComparison,
    RunOut,
    RunResultOut,
)
from quantdesk.api.schemas.jobs import JobOut
from quantdesk.domain.auth import Permission, Principal
from quantdesk.domain.backtest_checks import error_location
from quantdesk.domain.errors import ConflictError, NotFoundError
from quantdesk.domain.runs import RunFilter, RunRecord, RunState
from quantdesk.domain.time import TS_MAX_NS
from quantdesk.services.platform import Platform
from quantdesk.services.ports.runs import ArtifactKind
from quantdesk.services.service_parts import ServiceParts

LABEL_QUERY_MAX = 200
STRATEGY_QUERY_MAX = 63
SUBMITTER_MAX = 200
_MEDIA = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
_DOWNLOADS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "a page of rows (format=json), or the whole file (csv, parquet)",
        "content": {media: {} for media in _MEDIA.values()},
    }
}

Row = TypeVar("Row", FillOut, PositionOut, EquityPoint)
Desk = Annotated[Platform, Depends(platform)]
Parts = Annotated[ServiceParts, Depends(parts)]
RunId = Annotated[
    str,
    Path(min_length=1, max_length=RUN_ID_MAX_LENGTH, pattern=RUN_ID_PATTERN),
]
RunQuery = Annotated[str, Query(min_length=1, max_length=RUN_ID_MAX_LENGTH, pattern=RUN_ID_PATTERN)]
Format = Annotated[ArtifactFormat, Query(description="json: paged; csv or parquet: a download")]
Instant = Annotated[int | None, Query(ge=0, le=TS_MAX_NS, description="ns UTC")]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/backtest", tags=["backtest"])

    @router.post("", response_model=BacktestAccepted, status_code=status.HTTP_202_ACCEPTED)
    def create_backtest(
        body: BacktestCreate,
        service: Parts,
        caller: Annotated[Principal, allow(Permission.backtests_run)],
    ) -> BacktestAccepted:
        """Submit a run: its references are pinned now (a refused request stores nothing);
        the job runs it. Follow it at ``/backtest/{run_id}`` or over the WebSocket."""
        try:
            request = body.request()
        except ValidationError as error:  # the request's own cross-field checks
            raise RequestValidationError(
                [  # where the domain's check says (its context), never the value sent
                    {"type": e["type"], "loc": ("body", *error_location(e)), "msg": e["msg"]}
                    for e in error.errors(include_input=False)
                ]
            ) from None
        job = service.jobs.submit_backtest(request, submitted_by=caller.username)
        assert job.subject is not None, "a backtest job names its run"
        return BacktestAccepted(run_id=job.subject, job=JobOut.of(job))

    @router.get("", response_model=Page[RunOut])
    def list_runs(
        desk: Desk,
        service: Parts,
        _: Annotated[Principal, allow(Permission.read)],
        window: Paged,
        state: RunState | None = None,
        label: Annotated[str | None, Query(max_length=LABEL_QUERY_MAX)] = None,
        strategy: Annotated[
            str | None, Query(max_length=STRATEGY_QUERY_MAX, description="a strategy id prefix")
        ] = None,
        submitted_by: Annotated[str | None, Query(max_length=SUBMITTER_MAX)] = None,
        since_ns: Instant = None,
        until_ns: Instant = None,
    ) -> Page[RunOut]:
        """Runs, newest first, filtered by state, label, strategy, submitter and time."""
        wanted = RunFilter(
            state=state,
            label=label,
            strategy=strategy,
            submitted_by=submitted_by,
            since_ns=since_ns,
            until_ns=until_ns,
        )
        found, total = desk.backtests.records(wanted, limit=window.limit, offset=window.offset)
        return page_of([_run_out(service, r) for r in found], total, window)

    @router.get("/compare", response_model=RunComparison)
    def compare_runs(
        desk: Desk,
        _: Annotated[Principal, allow(Permission.read)],
        a: Annotated[
            str, Query(min_length=1, max_length=RUN_ID_MAX_LENGTH, pattern=RUN_ID_PATTERN)
        ],
        b: Annotated[
            str, Query(min_length=1, max_length=RUN_ID_MAX_LENGTH, pattern=RUN_ID_PATTERN)
        ],
    ) -> RunComparison:
        """Two completed runs side by side, and whether their fills are bit-for-bit equal."""
        backtests = desk.backtests
        left, right = _completed(desk, a), _completed(desk, b)
        result_a, result_b = backtests.result(left.run_id), backtests.result(right.run_id)
        return RunComparison.of(result_a, result_b, backtests.same_fills(left.run_id, right.run_id))

    @router.get("/{run_id}", response_model=RunOut)
    def get_run(
        run_id: RunId, desk: Desk, service: Parts, _: Annotated[Principal, allow(Permission.read)]
    ) -> RunOut:
        """State, progress 0-100 and ETA (from the run's job), and a summary once completed."""
        return _run_out(service, desk.backtests.record(run_id))

    @router.post("/{run_id}/cancel", response_model=RunOut)
    def cancel_run(
        run_id: RunId,
        desk: Desk,
        service: Parts,
        caller: Annotated[Principal, allow(Permission.jobs_cancel)],
    ) -> RunOut:
        """Stop a pending or running run's job (409 once it has finished)."""
        record = desk.backtests.record(run_id)
        if record.job_id is None:
            raise ConflictError(
                f"run {record.run_id} was not run as a job: there is nothing to cancel",
                code="run_has_no_job",
                data={"run_id": record.run_id, "state": record.state.value},
            )
        service.jobs.cancel(record.job_id, actor=caller.username)
        return _run_out(service, desk.backtests.record(record.run_id))

    @router.get("/{run_id}/result", response_model=RunResultOut)
    def run_result(
        run_id: RunId, desk: Desk, _: Annotated[Principal, allow(Permission.read)]
    ) -> RunResultOut:
        """Metrics, attribution, execution quality and the fingerprint of a completed run."""
        return RunResultOut.of(desk.backtests.result(_completed(desk, run_id).run_id))

    _add_table_route(router, "fills", FillOut, "Every fill in time order")
    _add_table_route(router, "positions", PositionOut, "Every closed round trip")
    _add_table_route(router, "equity", EquityPoint, "The equity curve with its drawdown")

    @router.get(
        "/{run_id}/report",
        response_class=FileResponse,
        responses={200: {"content": {"text/html": {}}, "description": "the HTML report"}},
    )
    def run_report(
        run_id: RunId, desk: Desk, _: Annotated[Principal, allow(Permission.read)]
    ) -> FileResponse:
        """The run's self-contained HTML report."""
        path = desk.backtests.report_file(_completed(desk, run_id).run_id)
        return FileResponse(path, media_type="text/html; charset=utf-8")

    return router


def _add_table_route(router: APIRouter, kind: ArtifactKind, row: type[Row], summary: str) -> None:
    """``GET /{run_id}/{kind}``: a page of the table's rows, or all of it as CSV/Parquet
    (the three tables differ only in their rows; operation ids ``backtest-run_{kind}``)."""

    def table(
        run_id: RunId,
        desk: Desk,
        _: Annotated[Principal, allow(Permission.read)],
        window: Paged,
        format: Format = "json",
    ) -> Page[Row] | Response:
        return _artifact(desk, run_id, kind, format, window, row)

    table.__doc__ = f"{summary}: a page of it, or the whole table as CSV or Parquet."
    router.add_api_route(
        f"/{{run_id}}/{kind}",
        table,
        methods=["GET"],
        name=f"run_{kind}",
        response_model=Page[row],  # type: ignore[valid-type]  # a page of this table's rows
        responses=_DOWNLOADS,
    )


def _run_out(service: ServiceParts, record: RunRecord) -> RunOut:
    """The record with its job's progress (asked only while the run is unfinished)."""
    unfinished = record.state in (RunState.PENDING, RunState.RUNNING)
    if not unfinished or record.job_id is None:
        return RunOut.of(record, None)
    try:
        job = service.jobs.get(record.job_id)
    except NotFoundError:  # the run outlived its job's row: the state alone is still true
        return RunOut.of(record, None)
    return RunOut.of(record, JobOut.of(job))


def _completed(desk: Platform, run_id: str) -> RunRecord:
    """The run's record, refusing a run that has no result (yet, or ever)."""
    record = desk.backtests.record(run_id)
    if record.state is not RunState.COMPLETED:
        raise ConflictError(
            f"run {record.run_id} is {record.state.value}: it has no result",
            code="run_not_completed",
            data={"run_id": record.run_id, "state": record.state.value},
        )
    return record


def _artifact(
    desk: Platform,
    run_id: str,
    kind: ArtifactKind,
    format: ArtifactFormat,
    window: PageParams,
    row: type[Row],
) -> Page[Row] | Response:
    record = _completed(desk, run_id)
    backtests = desk.backtests
    if format == "json":
        rows, total = backtests.artifact_rows(
            record.run_id, kind, offset=window.offset, limit=window.limit
        )
        return page_of([row.model_validate(r) for r in rows], total, window)
    extension = format
    return StreamingResponse(
        backtests.artifact_download(record.run_id, kind, format),
        media_type=_MEDIA[format],
        headers={
            "Content-Disposition": f'attachment; filename="{record.run_id}-{kind}.{extension}"'
        },
    )
