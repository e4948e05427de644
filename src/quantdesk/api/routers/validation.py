"""Validation over HTTP: a run as a job (``validation_run``), the records of a version, the
reports (JSON and HTML), the policies (admin sets them) and the gate's override (admin, with
a reason). Refusals of the gate are problem details (``not_validated``: 409).

Every route parses, calls the research parts (policies, promotion gate) or the job service,
and renders; references are bounded in length and parsed by the registry.
"""

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status
from fastapi.responses import FileResponse

from quantdesk.api.deps import Paged, allow, parts, platform
from quantdesk.api.pagination import Page, page_of
from quantdesk.api.schemas.jobs import JobOut
from quantdesk.api.schemas.strategies import REF_MAX_LENGTH
from quantdesk.api.schemas.validation import (
    POLICY_NAME_MAX_LENGTH,
    OverrideCreate,
    OverrideOut,
    PolicyOut,
    PolicyPut,
    PolicyStored,
    PromotionStatusOut,
    ValidationRecordOut,
    ValidationRunAccepted,
    ValidationRunCreate,
)
from quantdesk.domain.auth import Permission, Principal
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.jobs import JobKind
from quantdesk.domain.validation.report import ValidationRecord, ValidationReport
from quantdesk.services.platform import Platform
from quantdesk.services.research_parts import ResearchParts
from quantdesk.services.service_parts import ServiceParts
from quantdesk.services.validation.promotion import PromotionStatus

RECORDS_MAX = 10_000
ID_MAX_LENGTH = 64

Desk = Annotated[Platform, Depends(platform)]
Parts = Annotated[ServiceParts, Depends(parts)]
Ref = Annotated[
    str, Path(min_length=1, max_length=REF_MAX_LENGTH, description="ID@VERSION or ID@TAG")
]
ValidationId = Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH)]
PolicyName = Annotated[str, Path(min_length=1, max_length=POLICY_NAME_MAX_LENGTH)]


def build_router() -> APIRouter:
    router = APIRouter(tags=["validation"])

    @router.post(
        "/strategies/{ref}/validation",
        response_model=ValidationRunAccepted,
        status_code=status.HTTP_202_ACCEPTED,
    )
    def run_validation(
        ref: Ref,
        body: ValidationRunCreate,
        desk: Desk,
        service: Parts,
        caller: Annotated[Principal, allow(Permission.validations_run)],
    ) -> ValidationRunAccepted:
        """Validate a version for trading as a job (every step of the policy; minutes);
        the job's progress follows the steps and its result is the validation record."""
        stored = desk.registry.resolve(ref)
        used = _research(desk).policies.current(body.policy)  # unknown: 404 before the job
        payload = {
            **body.model_dump(exclude_none=True),
            "ref": stored.ref,
            "policy": used.name,
            "actor": caller.username,
        }
        job = service.jobs.submit(
            JobKind.VALIDATION_RUN, payload, submitted_by=caller.username, subject=stored.ref
        )
        return ValidationRunAccepted(ref=stored.ref, policy=used.name, job=JobOut.of(job))

    @router.get("/strategies/{ref}/validations", response_model=Page[ValidationRecordOut])
    def list_validations(
        ref: Annotated[
            str, Path(min_length=1, max_length=REF_MAX_LENGTH, description="ID or ID@VERSION")
        ],
        desk: Desk,
        _: Annotated[Principal, allow(Permission.read)],
        window: Paged,
    ) -> Page[ValidationRecordOut]:
        """The validation records of a strategy (or of one version), newest first."""
        strategy_id, _sep, selector = ref.partition("@")
        version = None
        if selector:
            version = desk.registry.resolve(ref).version
        else:
            desk.registry.get(strategy_id)  # an unknown strategy is 404, not an empty page
        found = _research(desk).promotion.records(strategy_id, version, limit=RECORDS_MAX)
        items = found[window.offset : window.offset + window.limit]
        return page_of([ValidationRecordOut.of(r) for r in items], len(found), window)

    @router.get("/strategies/{ref}/promotion", response_model=PromotionStatusOut)
    def promotion_status(
        ref: Ref, desk: Desk, _: Annotated[Principal, allow(Permission.read)]
    ) -> PromotionStatusOut:
        """Whether the version may trade (a passing record of its content, or an override)."""
        stored = desk.registry.resolve(ref)
        gate = _research(desk).promotion
        return _status_out(gate.status(stored.strategy_id, stored.version))

    @router.post(
        "/strategies/{ref}/promotion-override",
        response_model=OverrideOut,
        status_code=status.HTTP_201_CREATED,
    )
    def promotion_override(
        ref: Ref,
        body: OverrideCreate,
        desk: Desk,
        caller: Annotated[Principal, allow(Permission.promotion_manage)],
    ) -> OverrideOut:
        """Let a version trade without a passing validation: an admin's decision, with its
        reason, on the audit chain."""
        stored = desk.registry.resolve(ref)
        gate = _research(desk).promotion
        done = gate.override(stored.strategy_id, stored.version, caller.username, body.reason)
        return OverrideOut.of(done)

    @router.get("/validations/{validation_id}", response_model=ValidationReport)
    def validation_report(
        validation_id: ValidationId, desk: Desk, _: Annotated[Principal, allow(Permission.read)]
    ) -> ValidationReport:
        """The full report of one validation: every step, every check and its numbers."""
        return _research(desk).promotion.report(validation_id)

    @router.get(
        "/validations/{validation_id}/report",
        response_class=FileResponse,
        responses={200: {"content": {"text/html": {}}, "description": "the HTML report"}},
    )
    def validation_html(
        validation_id: ValidationId, desk: Desk, _: Annotated[Principal, allow(Permission.read)]
    ) -> FileResponse:
        """The validation's self-contained HTML report (plots and every check)."""
        gate = _research(desk).promotion
        path = gate.reports.html(gate.get(validation_id).validation_id)
        return FileResponse(path, media_type="text/html; charset=utf-8")

    @router.get("/validation-policies", response_model=Page[PolicyOut])
    def list_policies(
        desk: Desk, _: Annotated[Principal, allow(Permission.read)], window: Paged
    ) -> Page[PolicyOut]:
        """The newest version of every policy (the default is always there)."""
        policies = _research(desk).policies
        names = policies.names()
        chosen = names[window.offset : window.offset + window.limit]
        return page_of([PolicyOut.of(policies.current(n)) for n in chosen], len(names), window)

    @router.get("/validation-policies/{name}", response_model=PolicyOut)
    def show_policy(
        name: PolicyName,
        desk: Desk,
        _: Annotated[Principal, allow(Permission.read)],
        version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    ) -> PolicyOut:
        """One policy (its newest version unless ``version``)."""
        return PolicyOut.of(_research(desk).policies.get(name, version))

    @router.put("/validation-policies/{name}", response_model=PolicyStored)
    def set_policy(
        name: PolicyName,
        body: PolicyPut,
        desk: Desk,
        caller: Annotated[Principal, allow(Permission.promotion_manage)],
    ) -> PolicyStored:
        """Store a policy: a new version when its content changed (admin: policies are the
        gate's standard). A refused field is named (code ``invalid_policy``)."""
        given = body.policy.get("name", name)
        if given != name:
            raise InvalidInputError(
                "the policy's name differs from the path's",
                code="policy_name_mismatch",
                data={"name": name},
            )
        document = desk.documents.read_text(
            json.dumps({**body.policy, "name": name}), f"policy {name}"
        )
        stored, created = _research(desk).policies.set_document(document, caller.username)
        return PolicyStored(created=created, policy=PolicyOut.of(stored))

    return router


def _research(desk: Platform) -> ResearchParts:
    return desk.research


def _status_out(status: PromotionStatus) -> PromotionStatusOut:
    def record(found: ValidationRecord | None) -> ValidationRecordOut | None:
        return None if found is None else ValidationRecordOut.of(found)

    return PromotionStatusOut(
        ref=status.ref,
        content_hash=status.content_hash,
        tradable=status.tradable,
        reason=status.reason,
        latest=record(status.latest),
        passing=record(status.passing),
        override=None if status.override is None else OverrideOut.of(status.override),
    )
