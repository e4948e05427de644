"""``/strategies``: the registry over HTTP (list, show, register, update, history, diff, tag,
deprecate, validate as a job, export, family schemas).

Each route parses, calls the registry (or the checker, the exporter, the job service) and
renders; references in paths are bounded in length and parsed by the registry's own parser.
"""

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Response, status

from quantdesk.api.deps import Paged, allow, flag, parts, platform
from quantdesk.api.pagination import Page, PageParams, page_of
from quantdesk.api.schemas.jobs import JobOut
from quantdesk.api.schemas.strategies import (
    REF_MAX_LENGTH,
    Change,
    Deprecate,
    FamilySchema,
    Registered,
    StrategyCreate,
    StrategyDetail,
    StrategyDiff,
    StrategyExport,
    StrategySummary,
    StrategyUpdate,
    TagAssign,
    ValidationAccepted,
    Version,
)
from quantdesk.domain.auth import Permission, Principal
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.jobs import JobKind
from quantdesk.domain.strategies.families import StrategyFamily, parameter_schema
from quantdesk.domain.strategies.versions import StrategyVersion, parse_ref
from quantdesk.domain.text import shown
from quantdesk.services.platform import Platform
from quantdesk.services.registry import Registration
from quantdesk.services.service_parts import ServiceParts
from quantdesk.services.strategy_export import export_definition

ID_MAX_LENGTH = 63
TAG_MAX_LENGTH = 40
QUERY_MAX_LENGTH = 200
MODULE_MAX_LENGTH = 200

T = TypeVar("T")
_UNCHANGED: dict[int | str, dict[str, Any]] = {
    200: {"model": Registered, "description": "unchanged: this content is that version already"}
}

Desk = Annotated[Platform, Depends(platform)]
Parts = Annotated[ServiceParts, Depends(parts)]
Ref = Annotated[
    str, Path(min_length=1, max_length=REF_MAX_LENGTH, description="ID, ID@VERSION or ID@TAG")
]
StrategyId = Annotated[
    str,
    Path(min_length=1, max_length=ID_MAX_LENGTH, description="a strategy id (no version)"),
]
"""Named ``ref`` in the path like the routes beside it (one template, one name: OpenAPI)."""


def build_router() -> APIRouter:
    router = APIRouter(prefix="/strategies", tags=["strategies"])

    @router.get("", response_model=Page[StrategySummary])
    def list_strategies(
        desk: Desk,
        _: Annotated[Principal, allow(Permission.read)],
        window: Paged,
        family: StrategyFamily | None = None,
        tag: Annotated[str | None, Query(max_length=TAG_MAX_LENGTH)] = None,
        q: Annotated[
            str | None, Query(max_length=QUERY_MAX_LENGTH, description="in the id or the name")
        ] = None,
        include_deprecated: bool = False,
    ) -> Page[StrategySummary]:
        """Each strategy's newest version (with ``tag``: the version carrying it)."""
        versions = desk.registry.list(family=family, tag=tag)
        needle = (q or "").casefold()
        chosen = [
            v
            for v in versions
            if (include_deprecated or v.deprecation is None)
            and (needle in v.strategy_id or needle in v.definition.name.casefold())
        ]
        return _page(chosen, window)

    @router.get("/families", response_model=Page[FamilySchema])
    def families(
        _: Annotated[Principal, allow(Permission.read)], window: Paged
    ) -> Page[FamilySchema]:
        """Every family's parameters as JSON schema."""
        families = list(StrategyFamily)
        chosen = _window(families, window)
        items = [FamilySchema(family=f, parameters_schema=parameter_schema(f)) for f in chosen]
        return page_of(items, len(families), window)

    @router.post(
        "",
        response_model=Registered,
        status_code=status.HTTP_201_CREATED,
        responses=_UNCHANGED,
    )
    def register(
        body: StrategyCreate,
        desk: Desk,
        caller: Annotated[Principal, allow(Permission.strategies_write)],
        response: Response,
    ) -> Registered:
        """A new strategy as version 1; the same content again changes nothing (200); other
        content under an existing id is a conflict (update it instead)."""
        done = desk.registry.add(body.definition, caller.username, body.reason)
        return _registered(desk, done, response)

    @router.put(
        "/{ref}",
        response_model=Registered,
        status_code=status.HTTP_201_CREATED,
        responses=_UNCHANGED,
    )
    def update(
        ref: StrategyId,
        body: StrategyUpdate,
        desk: Desk,
        caller: Annotated[Principal, allow(Permission.strategies_write)],
        response: Response,
    ) -> Registered:
        """The next version of an existing strategy (201; 200 when the content is unchanged)."""
        checked = _strategy_id(ref)
        if body.definition.strategy_id != checked:
            raise InvalidInputError(
                f"the definition is of {body.definition.strategy_id}, the path names {checked}",
                code="strategy_id_mismatch",
                data={"path": checked, "definition": body.definition.strategy_id},
            )
        done = desk.registry.update(body.definition, caller.username, body.reason)
        return _registered(desk, done, response)

    @router.get("/{ref}", response_model=StrategyDetail)
    def get_strategy(
        ref: Ref, desk: Desk, _: Annotated[Principal, allow(Permission.read)]
    ) -> StrategyDetail:
        """One version in full, with its newest validation outcome on this desk."""
        stored = desk.registry.resolve(ref)
        return StrategyDetail.full(stored, desk.compatibility.latest(stored))

    @router.get("/{ref}/history", response_model=Page[StrategySummary])
    def history(
        ref: StrategyId,
        desk: Desk,
        _: Annotated[Principal, allow(Permission.read)],
        window: Paged,
    ) -> Page[StrategySummary]:
        """Every version, oldest first."""
        return _page(desk.registry.history(_strategy_id(ref)), window)

    @router.get("/{ref}/diff", response_model=StrategyDiff)
    def diff(
        ref: StrategyId,
        desk: Desk,
        _: Annotated[Principal, allow(Permission.read)],
        from_version: Annotated[Version, Query()],
        to_version: Annotated[Version, Query()],
    ) -> StrategyDiff:
        """Field-level changes from one version to another."""
        checked = _strategy_id(ref)
        changes = desk.registry.diff(checked, from_version, to_version)
        return StrategyDiff(
            strategy_id=checked,
            from_version=from_version,
            to_version=to_version,
            changes=[Change.of(c) for c in changes],
        )

    @router.put("/{ref}/tags/{tag}", response_model=StrategyDetail)
    def tag(
        ref: StrategyId,
        tag: Annotated[str, Path(min_length=1, max_length=TAG_MAX_LENGTH)],
        body: TagAssign,
        desk: Desk,
        caller: Annotated[Principal, allow(Permission.strategies_write)],
    ) -> StrategyDetail:
        """Point ``tag`` at a version (it moves there from any other version)."""
        stored = desk.registry.tag(_strategy_id(ref), body.version, tag, caller.username)
        return StrategyDetail.full(stored, desk.compatibility.latest(stored))

    @router.post("/{ref}/deprecate", response_model=StrategyDetail)
    def deprecate(
        ref: Ref,
        body: Deprecate,
        desk: Desk,
        caller: Annotated[Principal, allow(Permission.strategies_write)],
    ) -> StrategyDetail:
        """Mark a version deprecated (it stays stored and readable); ``ID@VERSION|TAG``."""
        registry = desk.registry
        stored = registry.resolve(_pinned(ref))
        done = registry.deprecate(stored.strategy_id, stored.version, caller.username, body.reason)
        return StrategyDetail.full(done, desk.compatibility.latest(done))

    @router.post(
        "/{ref}/validate",
        response_model=ValidationAccepted,
        status_code=status.HTTP_202_ACCEPTED,
    )
    def validate(
        ref: Ref,
        desk: Desk,
        service: Parts,
        caller: Annotated[Principal, allow(Permission.validations_run)],
    ) -> ValidationAccepted:
        """Validate a version on this desk as a job (the smoke run takes seconds); its outcome
        shows on the version (``validation``) once the job completes."""
        stored = desk.registry.resolve(ref)
        job = service.jobs.submit(
            JobKind.VALIDATION,
            {"ref": stored.ref},
            submitted_by=caller.username,
            subject=stored.ref,
        )
        return ValidationAccepted(ref=stored.ref, job=JobOut.of(job))

    @router.get(
        "/{ref}/export",
        response_model=StrategyExport,
        dependencies=[flag("strategy_export")],
    )
    def export(
        ref: Ref,
        desk: Desk,
        _: Annotated[Principal, allow(Permission.read)],
        module: Annotated[
            str | None,
            Query(max_length=MODULE_MAX_LENGTH, description="the module's dotted import name"),
        ] = None,
    ) -> StrategyExport:
        """A family version as a standalone, commented module (gated by ``strategy_export``)."""
        stored = desk.registry.resolve(ref)
        exported = export_definition(stored.definition, desk.exporter, module)
        return StrategyExport(
            ref=stored.ref,
            module=exported.strategy_path.rsplit(":", 1)[0],
            strategy_path=exported.strategy_path,
            config_path=exported.config_path,
            source=exported.source,
        )

    return router


def _page(versions: list[StrategyVersion], window: PageParams) -> Page[StrategySummary]:
    items = [StrategySummary.of(v) for v in _window(versions, window)]
    return page_of(items, len(versions), window)


def _window(items: list[T], window: PageParams) -> list[T]:
    """The page's slice of a list the registry hands back whole (its lists are short)."""
    return items[window.offset : window.offset + window.limit]


def _registered(desk: Platform, done: Registration, response: Response) -> Registered:
    """201 for a new version, 200 when the content is stored already (nothing changed)."""
    response.status_code = status.HTTP_201_CREATED if done.created else status.HTTP_200_OK
    stored = done.stored
    detail = StrategyDetail.full(stored, desk.compatibility.latest(stored))
    return Registered(created=done.created, strategy=detail)


def _strategy_id(text: str) -> str:
    """A bare strategy id (the registry's parser; a version or tag here is refused)."""
    strategy_id, selector = parse_ref(text)
    if selector is not None:
        raise InvalidInputError(
            f"{shown(text)} names a version; this path takes a strategy id only",
            code="strategy_id_expected",
            data={"given": text[:REF_MAX_LENGTH]},
        )
    return strategy_id


def _pinned(ref: str) -> str:
    """``ID@VERSION`` or ``ID@TAG``: a change to one version never guesses which."""
    _, selector = parse_ref(ref)
    if selector is None:
        raise InvalidInputError(
            f"{shown(ref)} names no version",
            code="ref_not_pinned",
            data={"ref": ref},
        )
    return ref
