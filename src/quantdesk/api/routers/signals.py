"""``/signals``: post one signal (the live path) or a batch (the file path), read the buffer,
its counts and the dead letters, replay one.

Both ingest routes pass the desk's one gate and its accounting: a single signal is routed as
``SignalRouter.route`` routes any live signal (buffered, then published to its consumers);
a batch is ingested as ``quantdesk signals ingest`` ingests a file (``SignalService``), each
record rejected with its reason and counted once. Both are gated by the flag
``signals_http_ingest``.
"""

import json
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, status
from fastapi.responses import JSONResponse
from pydantic import JsonValue

from quantdesk.api.deps import Paged, allow, correlation_id, flag, platform
from quantdesk.api.pagination import Page, page_of
from quantdesk.api.problems import FieldError, problem_response
from quantdesk.api.schemas.signals import (
    DeadLetterOut,
    RecordRejection,
    SignalBatchIn,
    SignalBatchOut,
    SignalRecordIn,
    SignalRouted,
    SignalStatsOut,
)
from quantdesk.domain.auth import Permission, Principal
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.signals import AISignal
from quantdesk.domain.time import TS_MAX_NS
from quantdesk.services.platform import Platform
from quantdesk.services.ports.signals import SignalRecord
from quantdesk.services.signals import LIST_LIMIT_MAX, SignalBatch

FLAG = "signals_http_ingest"
SIGNAL_ID_MAX = 64
DEAD_LETTER_ID_MAX = 64
Desk = Annotated[Platform, Depends(platform)]
Instant = Annotated[int | None, Query(ge=0, le=TS_MAX_NS, description="on ts_init, ns UTC")]
Reader = Annotated[Principal, allow(Permission.read)]
Ingester = Annotated[Principal, allow(Permission.signals_ingest)]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/signals", tags=["signals"])

    @router.post(
        "",
        response_model=SignalRouted,
        status_code=status.HTTP_201_CREATED,
        dependencies=[flag(FLAG)],
    )
    async def post_signal(
        desk: Desk,
        _: Ingester,
        cid: Annotated[str, Depends(correlation_id)],
        record: Annotated[SignalRecordIn, Body(description="one signal record")],
    ) -> SignalRouted:
        """One signal on the live path: judged, buffered, published to its consumers; a
        rejected one is a 422 ``signal_rejected`` naming the reason (and counted)."""
        routed = await desk.signal_router.route(record, correlation_id=cid)
        if routed.signal is None:
            rejection = routed.rejection
            assert rejection is not None  # a route either accepts or says why not
            raise InvalidInputError(
                f"signal rejected ({rejection.reason.value}): {rejection.detail}"[:300],
                code="signal_rejected",
                data={"reason": rejection.reason.value, "field": rejection.field},
            )
        return SignalRouted(
            signal=routed.signal, consumers=list(routed.consumers), correlation_id=cid
        )

    @router.post(
        "/batch",
        response_model=SignalBatchOut,
        dependencies=[flag(FLAG)],
        responses={422: {"description": "nothing valid: a problem listing each record"}},
    )
    def post_batch(
        desk: Desk, caller: Ingester, batch: SignalBatchIn
    ) -> SignalBatchOut | JSONResponse:
        """Records ingested as a signal file is (buffered for replay, not published): each
        rejected record with its reason; 422 ``nothing_valid`` when none is new and valid."""
        done = desk.signals.ingest_batch(_records(batch.records), source=f"api:{caller.username}")
        if done.refusal is not None:
            return problem_response(
                422,
                done.refusal.code,
                f"none of {len(batch.records)} records is valid",
                data={"records": len(batch.records), "rejected": len(done.rejected)},
                errors=[_field_error(r) for r in map(RecordRejection.of, done.rejected)],
            )
        return _batch_out(done)

    @router.get("", response_model=Page[AISignal])
    def list_signals(
        desk: Desk,
        _: Reader,
        window: Paged,
        signal_type: Annotated[str | None, Query(max_length=40)] = None,
        instrument_id: Annotated[str | None, Query(max_length=200)] = None,
        start_ns: Instant = None,
        end_ns: Instant = None,
    ) -> Page[AISignal]:
        """Buffered signals in ts_init order, filtered by type, instrument and time."""
        reach = window.offset + window.limit
        if reach > LIST_LIMIT_MAX:
            raise InvalidInputError(
                f"offset + limit reaches past {LIST_LIMIT_MAX:,} signals: narrow the time range"
            )
        found = desk.signals.list(
            signal_type=signal_type,
            instrument_id=instrument_id,
            start_ns=start_ns,
            end_ns=end_ns,
            limit=reach,
        )
        items = found[window.offset :]
        if len(found) < reach:
            total = len(found)
        elif instrument_id is None and start_ns is None and end_ns is None:
            wanted = None if signal_type is None else found[0].signal_type.value
            counts = desk.signals.stats()
            total = sum(r.accepted for r in counts if wanted is None or r.signal_type == wanted)
        else:
            total = len(
                desk.signals.list(
                    signal_type=signal_type,
                    instrument_id=instrument_id,
                    start_ns=start_ns,
                    end_ns=end_ns,
                    limit=LIST_LIMIT_MAX,
                )
            )
        return page_of(items, max(total, len(found)), window)

    @router.get("/stats", response_model=list[SignalStatsOut])
    def signal_stats(desk: Desk, _: Reader) -> list[SignalStatsOut]:
        """Per type and source: accepted, rejected by reason, delivered, dead-lettered."""
        return [SignalStatsOut.of(row) for row in desk.signals.stats()]

    @router.get("/dead-letters", response_model=Page[DeadLetterOut])
    def list_dead_letters(
        desk: Desk, _: Reader, window: Paged, include_replayed: bool = False
    ) -> Page[DeadLetterOut]:
        """Signals no consumer could take after every retry (oldest first)."""
        letters = desk.signals.dead_letters(include_replayed=include_replayed)
        chosen = letters[window.offset : window.offset + window.limit]
        return page_of([DeadLetterOut.of(d) for d in chosen], len(letters), window)

    @router.post("/dead-letters/{dead_letter_id}/replay", response_model=list[DeadLetterOut])
    async def replay_dead_letter(
        desk: Desk,
        _: Ingester,
        dead_letter_id: Annotated[str, Path(min_length=1, max_length=DEAD_LETTER_ID_MAX)],
    ) -> list[DeadLetterOut]:
        """Put one dead letter back on the bus for its consumer (404 when none waits)."""
        replayed = await desk.signal_router.replay([dead_letter_id])
        return [DeadLetterOut.of(d) for d in replayed]

    @router.get("/{signal_id}", response_model=AISignal)
    def get_signal(
        desk: Desk,
        _: Reader,
        signal_id: Annotated[str, Path(min_length=1, max_length=SIGNAL_ID_MAX)],
    ) -> AISignal:
        """One buffered signal in full: value, metadata, provenance."""
        return desk.signals.show(signal_id)

    return router


def _records(items: list[dict[str, JsonValue]]) -> list[SignalRecord]:
    """Each posted record as a signal file's record (row = position in the batch, from 1)."""
    return [
        SignalRecord(
            row=index + 1,
            raw_text=json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
            raw=item,
        )
        for index, item in enumerate(items)
    ]


def _field_error(rejection: RecordRejection) -> FieldError:
    return FieldError(
        field=f"records.{rejection.index}.{rejection.field}",
        message=f"{rejection.reason}: {rejection.detail}"[:300],
    )


def _batch_out(done: SignalBatch) -> SignalBatchOut:
    summary = done.summary
    return SignalBatchOut(
        records_read=summary.records_read,
        accepted=summary.accepted,
        rejected=summary.rejected,
        rejected_by_reason=summary.rejected_by_reason,
        already_buffered=summary.already_buffered,
        already_rejected=summary.already_rejected,
        first_ts_init=summary.first_ts_init,
        last_ts_init=summary.last_ts_init,
        rejections=[RecordRejection.of(r) for r in done.rejected],
    )
