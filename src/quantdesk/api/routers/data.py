"""``/data``: instruments, what the catalog holds and where it came from, and uploads of bar
or signal files that an ingest job brings in (its summary and rejects downloadable).

An upload is written under the service's uploads folder with a name of the service's own
(a random id and the file type's suffix): the client's filename chooses only which reader
applies, never where anything is written. Its size is bounded while it is copied.
"""

import hashlib
import os
import uuid
from pathlib import Path as FilePath
from pathlib import PurePosixPath
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile, status
from fastapi.responses import FileResponse, JSONResponse
from pydantic import ValidationError

from quantdesk.api.config import ApiSettings
from quantdesk.api.deps import Paged, allow, parts, platform
from quantdesk.api.pagination import Page, page_of
from quantdesk.api.problems import problem_response
from quantdesk.api.schemas.data import UploadAccepted
from quantdesk.api.schemas.jobs import JobOut
from quantdesk.domain.auth import Permission, Principal
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec, require_instrument_id
from quantdesk.domain.jobs import JobKind
from quantdesk.domain.market_data import (
    BarIngestOptions,
    BarSpec,
    CatalogEntry,
    IngestSummary,
    LineageRecord,
)
from quantdesk.services.platform import Platform
from quantdesk.services.service_parts import ServiceParts

BAR_SUFFIXES = (".csv.gz", ".csv", ".parquet", ".pq")
SIGNAL_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".parquet")
FILENAME_MAX = 255
OPTIONS_MAX = 10_000
CHUNK = 1 << 20
ID_MAX = 200
INGEST_ID_MAX = 64

Desk = Annotated[Platform, Depends(platform)]
Parts = Annotated[ServiceParts, Depends(parts)]
Reader = Annotated[Principal, allow(Permission.read)]
Writer = Annotated[Principal, allow(Permission.data_write)]
InstrumentQuery = Annotated[str | None, Query(max_length=ID_MAX)]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/data", tags=["data"])

    @router.get("/instruments", response_model=Page[InstrumentSpec])
    def list_instruments(
        desk: Desk,
        _: Reader,
        window: Paged,
        asset_class: AssetClass | None = None,
        q: Annotated[str | None, Query(max_length=ID_MAX, description="id prefix")] = None,
    ) -> Page[InstrumentSpec]:
        """Instruments the desk knows, by id, filtered by asset class or id prefix."""
        found = [
            spec
            for spec in desk.instruments.list()
            if (asset_class is None or spec.asset_class is asset_class)
            and (q is None or spec.instrument_id.startswith(q))
        ]
        return _window(found, window)

    @router.get("/instruments/{instrument_id}", response_model=InstrumentSpec)
    def get_instrument(
        desk: Desk,
        _: Reader,
        instrument_id: Annotated[str, Path(min_length=1, max_length=ID_MAX)],
    ) -> InstrumentSpec:
        return desk.instruments.get(instrument_id)

    @router.get("/catalog", response_model=Page[CatalogEntry])
    def catalog_contents(
        desk: Desk,
        _: Reader,
        window: Paged,
        instrument_id: InstrumentQuery = None,
        data_type: Annotated[str | None, Query(max_length=40)] = None,
    ) -> Page[CatalogEntry]:
        """Each series the catalog holds: type, identifier, time range, count, files."""
        found = [
            e
            for e in desk.catalog.entries(instrument_id)
            if data_type is None or e.data_type == data_type
        ]
        return _window(found, window)

    @router.get("/lineage", response_model=Page[LineageRecord])
    def lineage(
        desk: Desk, _: Reader, window: Paged, instrument_id: InstrumentQuery = None
    ) -> Page[LineageRecord]:
        """Where each piece of the catalog came from (source, checksum, versions), oldest
        first."""
        return _window(desk.catalog.lineage(instrument_id), window)

    @router.post(
        "/uploads/bars",
        response_model=UploadAccepted,
        status_code=status.HTTP_202_ACCEPTED,
        responses={413: {"description": "the file is larger than the upload bound"}},
    )
    def upload_bars(
        request: Request,
        desk: Desk,
        service: Parts,
        caller: Writer,
        file: Annotated[UploadFile, File(description="CSV (optionally .gz) or Parquet bars")],
        instrument_id: Annotated[str, Form(min_length=1, max_length=ID_MAX)],
        bar_spec: Annotated[str, Form(min_length=1, max_length=ID_MAX)],
        options: Annotated[
            str, Form(max_length=OPTIONS_MAX, description="BarIngestOptions as JSON")
        ] = "{}",
    ) -> UploadAccepted | JSONResponse:
        """A bar file for one instrument and bar type, ingested by a job (follow it at
        /jobs/{job_id}; its result is the ingest summary with its ingest id)."""
        suffix = _suffix(file.filename, BAR_SUFFIXES)
        instrument = desk.instruments.get(require_instrument_id(instrument_id))
        spec = _bar_spec(bar_spec)
        parsed = _options(options)
        return _accept(
            request,
            file,
            suffix,
            lambda path: service.jobs.submit(
                JobKind.INGEST_BARS,
                {
                    "path": str(path),
                    "instrument_id": instrument.instrument_id,
                    "bar_spec": str(spec),
                    "options": parsed.model_dump(mode="json"),
                },
                submitted_by=caller.username,
                subject=instrument.instrument_id,
            ),
        )

    @router.post(
        "/uploads/signals",
        response_model=UploadAccepted,
        status_code=status.HTTP_202_ACCEPTED,
        responses={413: {"description": "the file is larger than the upload bound"}},
    )
    def upload_signals(
        request: Request,
        service: Parts,
        caller: Writer,
        file: Annotated[UploadFile, File(description="JSON lines, CSV or Parquet signals")],
    ) -> UploadAccepted | JSONResponse:
        """A signal file, ingested by a job through the same gate as the CLI's."""
        suffix = _suffix(file.filename, SIGNAL_SUFFIXES)
        return _accept(
            request,
            file,
            suffix,
            lambda path: service.jobs.submit(
                JobKind.INGEST_SIGNALS, {"path": str(path)}, submitted_by=caller.username
            ),
        )

    @router.get("/ingests/{ingest_id}", response_model=IngestSummary)
    def ingest_summary(
        service: Parts,
        _: Reader,
        ingest_id: Annotated[str, Path(min_length=1, max_length=INGEST_ID_MAX)],
    ) -> IngestSummary:
        """What one bar ingest did: rows read, written, already present, rejected by reason."""
        return service.ingests.summary(ingest_id)

    @router.get(
        "/ingests/{ingest_id}/rejects",
        response_class=FileResponse,
        responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}},
    )
    def ingest_rejects(
        service: Parts,
        _: Reader,
        ingest_id: Annotated[str, Path(min_length=1, max_length=INGEST_ID_MAX)],
    ) -> FileResponse:
        """The rejected rows of a bar ingest (CSV) or records of a signal ingest (JSON
        lines; its id is the rejects file's name in the job's summary)."""
        found = service.ingests.rejects(ingest_id)
        return FileResponse(found.path, media_type=found.media_type, filename=found.filename)

    return router


def _window(items: list[Any], window: Any) -> Page[Any]:
    return page_of(items[window.offset : window.offset + window.limit], len(items), window)


def _suffix(filename: str | None, allowed: tuple[str, ...]) -> str:
    """The file type from the client's name (its last component only, any folder dropped);
    the name itself is never used."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name.lower()[-FILENAME_MAX:]
    for suffix in allowed:
        if name.endswith(suffix) and len(name) > len(suffix):
            return suffix
    raise InvalidInputError(
        f"the file's name must end in one of {', '.join(allowed)} (it picks the reader)",
        code="upload_type",
        data={"allowed": ", ".join(allowed)},
    )


def _bar_spec(text: str) -> BarSpec:
    try:
        return BarSpec.parse(text)
    except ValueError as error:
        raise InvalidInputError(str(error)[:300], data={"field": "bar_spec"}) from None


def _options(text: str) -> BarIngestOptions:
    try:
        return BarIngestOptions.model_validate_json(text)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "options"
        raise InvalidInputError(
            f"ingest options: {where}: {first['msg']}"[:300], data={"field": "options"}
        ) from None


def _accept(
    request: Request, file: UploadFile, suffix: str, submit: Any
) -> UploadAccepted | JSONResponse:
    """Copy the upload under the service's own name (bounded), then submit its job; the
    file is removed again if the job cannot be submitted."""
    settings: ApiSettings = request.app.state.settings
    folder = settings.uploads_dir
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{uuid.uuid4().hex}{suffix}"
    copied = _copy(file.file, path, settings.upload_max_bytes)
    if copied is None:
        return problem_response(
            413,
            "payload_too_large",
            f"the file is larger than the upload bound of {settings.upload_max_bytes:,} bytes",
            data={"max_bytes": settings.upload_max_bytes},
        )
    size, digest = copied
    try:
        job = submit(path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return UploadAccepted(job=JobOut.of(job), bytes=size, sha256=digest)


def _copy(source: BinaryIO, path: FilePath, max_bytes: int) -> tuple[int, str] | None:
    """Stream ``source`` into a new file at ``path``; None (and no file) past ``max_bytes``."""
    digest = hashlib.sha256()
    size = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # a fresh name, never reused
    try:
        with os.fdopen(fd, "wb") as target:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    break
                digest.update(chunk)
                target.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if size > max_bytes:
        path.unlink(missing_ok=True)
        return None
    return size, digest.hexdigest()
