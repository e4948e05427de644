"""A typed model from a user's document, refused with the line and field of the first fault."""

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from quantdesk.domain.errors import InvalidInputError
from quantdesk.services.ports.documents import Document

M = TypeVar("M", bound=BaseModel)


def model_from_document(
    model: type[M], document: Document, *, what: str, hint: str, code: str
) -> M:
    """``model`` validated from ``document.data``; ``what`` names its fields in the message."""
    if not isinstance(document.data, dict):
        raise InvalidInputError(
            f"{document.name} line {document.line_of(())}: expected a mapping of {what} fields",
            hint=hint,
            code=code,
        )
    try:
        return model.model_validate(document.data)
    except ValidationError as error:
        first = error.errors()[0]
        location = tuple(first["loc"])
        field = ".".join(str(part) for part in location)
        line = document.line_of(location)
        message = f"{field}: {first['msg']}" if field else str(first["msg"])
        raise InvalidInputError(
            f"{document.name} line {line}: {message}",
            hint=hint,
            code=code,
            data={"line": line, "field": field or None},
        ) from None
