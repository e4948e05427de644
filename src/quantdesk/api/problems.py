"""The one place errors become HTTP answers: RFC 9457 problem details with our code and data.

A domain error's status follows its class (a finer instance code, ``run_not_found``, keeps its
class's status); a request that fails validation lists the fields and what is wrong with
them, never the values sent (a password or a token may be among them); anything unforeseen
is a 500 naming only the correlation id, its traceback in the log.
"""

import logging
import math
from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException

from quantdesk.domain.correlation import current_correlation_id
from quantdesk.domain.errors import JsonScalar, QuantdeskError

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
MAX_FIELD_ERRORS: Final = 50
_TEXT_MAX: Final = 300

# by the class's own code: an instance may carry a finer code, its class decides the status
_STATUS: Final[dict[str, int]] = {
    "invalid_input": 422,
    "not_found": 404,
    "conflict": 409,
    "job_state": 409,
    "unauthenticated": 401,
    "forbidden": 403,
    "rate_limited": 429,
    "feature_disabled": 403,
    "nothing_valid": 422,
    "source_unreadable": 422,
    "catalog_error": 503,
}
_HTTP_CODES: Final[dict[int, str]] = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


class FieldError(BaseModel):
    """One invalid part of a request: where it is and what rule it breaks (not its value)."""

    field: str
    message: str


class Problem(BaseModel):
    """The body of every error answer."""

    type: str = Field(description="/problems/{code}")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    code: str
    data: dict[str, JsonScalar] = Field(default_factory=dict)
    hint: str | None = None
    correlation_id: str | None = None
    errors: list[FieldError] | None = Field(
        default=None, description="the invalid fields of a request that failed validation"
    )


PROBLEM_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    "default": {
        "model": Problem,
        "description": "an error, as problem details",
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
}
"""Declared on every route (``include_router(responses=...)``): clients and the schema agree
on the error body."""


def status_of(error: QuantdeskError) -> int:
    for cls in type(error).__mro__:
        code = cls.__dict__.get("code")
        if isinstance(code, str) and code in _STATUS:
            return _STATUS[code]
    return 400


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    data: dict[str, JsonScalar] | None = None,
    hint: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    cid = current_correlation_id()
    body = Problem(
        type=f"/problems/{code}",
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        code=code,
        data=data or {},
        hint=hint,
        correlation_id=cid,
        errors=errors,
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def domain_problem(error: QuantdeskError) -> JSONResponse:
    status = status_of(error)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status == 429:
        retry = error.data.get("retry_after_s")
        seconds = retry if isinstance(retry, int | float) and math.isfinite(retry) else 60
        headers["Retry-After"] = str(max(1, math.ceil(seconds)))
    if status >= 500:
        log.warning("%s: %s", error.code, error.message)
    return problem_response(
        status, error.code, error.message, data=error.data, hint=error.hint, headers=headers
    )


def field_errors(error: RequestValidationError | ValidationError) -> list[FieldError]:
    """Where and why, from pydantic's errors; ``input`` and ``ctx`` are dropped on purpose."""
    found = []
    for item in error.errors()[:MAX_FIELD_ERRORS]:
        where = ".".join(str(part) for part in item.get("loc", ()))
        found.append(
            FieldError(
                field=_bounded(where or "request"),
                message=_bounded(str(item.get("msg", "invalid"))),
            )
        )
    return found


def internal_error_response(correlation_id: str) -> JSONResponse:
    """The 500 answer: the correlation id finds the traceback in the log."""
    return problem_response(500, "internal", f"internal error (correlation id {correlation_id})")


def install(app: FastAPI) -> None:
    """Register the handlers on ``app`` (unforeseen errors: see ``observability``)."""
    app.add_exception_handler(QuantdeskError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(ValidationError, _on_model_error)


async def _on_domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, QuantdeskError)
    return domain_problem(error)


async def _on_validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return _invalid(field_errors(error), len(error.errors()))


def _invalid(errors: list[FieldError], count: int) -> JSONResponse:
    return problem_response(
        422,
        "invalid_input",
        f"the request is invalid ({count} error{'s' if count != 1 else ''})",
        errors=errors,
    )


async def _on_model_error(request: Request, error: Exception) -> JSONResponse:
    """A model a route built from the request (a domain type from transport fields) refused
    it: the caller's input, as a request validation error is; logged, in case it is ours."""
    assert isinstance(error, ValidationError)
    log.warning("a model refused the request to %s: %s", request.url.path, error.title)
    return _invalid(field_errors(error), error.error_count())


async def _on_http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    status = error.status_code if 400 <= error.status_code <= 599 else 400
    detail = error.detail if isinstance(error.detail, str) else HTTPStatus(status).phrase
    return problem_response(
        status,
        _HTTP_CODES.get(status, f"http_{status}"),
        _bounded(detail),
        headers=dict(error.headers) if error.headers else None,
    )


def _bounded(text: str) -> str:
    return text if len(text) <= _TEXT_MAX else text[: _TEXT_MAX - 1] + "…"
