"""Errors that name the field of a definition, what is wrong and what it allows."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import (
    BaseModel,
    ValidationError,
)
from pydantic.fields import FieldInfo

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.families import PARAMETER_MODELS, StrategyFamily
from quantdesk.domain.text import (
    shown,
)


@dataclass(frozen=True)
class DefinitionProblem:
    """One thing wrong with a definition: where (field path) and what, with what is allowed."""

    location: tuple[str | int, ...]
    message: str

    @property
    def field(self) -> str:
        return ".".join(str(part) for part in self.location) or "definition"

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidDefinitionError(InvalidInputError):
    """A strategy definition breaks a rule; ``problems`` lists every rule it breaks."""

    def __init__(self, problems: Sequence[DefinitionProblem], *, source: str = "") -> None:
        self.problems = list(problems)
        prefix = f"{source}: " if source else ""
        first = self.problems[0]
        more = len(self.problems) - 1
        tail = f" (and {more} more problem{'s' * (more > 1)})" if more else ""
        super().__init__(
            f"{prefix}{first}{tail}",
            hint="see `quantdesk strategy schema FAMILY` and examples/strategies/",
        )


def parse_definition(data: object) -> StrategyDefinition:
    """A definition from authored data, or ``InvalidDefinitionError`` naming each field."""
    try:
        return StrategyDefinition.model_validate(data)
    except ValidationError as error:
        family = data.get("family") if isinstance(data, Mapping) else None
        raise InvalidDefinitionError(describe_problems(error, family)) from error


def describe_problems(error: ValidationError, family: object = None) -> list[DefinitionProblem]:
    problems = []
    for item in error.errors():
        location = tuple(item["loc"])
        if location == ("parameters",) and "valid family" in item["msg"]:
            continue  # reported under `family`
        message = str(item["msg"]).removeprefix("Value error, ")
        field = _field_info(location, family)
        if item["type"] == "extra_forbidden":
            known = _known_fields(location[:-1], family)
            message = f"unknown field; allowed: {', '.join(known)}"
        elif item["type"] == "missing":
            message = "required field is missing"
        elif field is not None:
            allowed = _allowed(field)
            if allowed and "allowed" not in message:
                message = f"{message!s}; got {shown(item.get('input'))}; allowed: {allowed}"
        problems.append(DefinitionProblem(location, message))
    return problems or [DefinitionProblem((), str(error))]


def _model_at(path: tuple[str | int, ...], family: object) -> type[BaseModel] | None:
    model: type[BaseModel] = StrategyDefinition
    for part in path:
        if model is StrategyDefinition and part == "parameters":
            try:
                model = PARAMETER_MODELS[StrategyFamily(str(family))]
            except ValueError:
                return None
            continue
        info = model.model_fields.get(str(part))
        annotation = None if info is None else info.annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _known_fields(path: tuple[str | int, ...], family: object) -> list[str]:
    model = _model_at(path, family)
    return [] if model is None else list(model.model_fields)


def _field_info(location: tuple[str | int, ...], family: object) -> FieldInfo | None:
    if not location:
        return None
    model = _model_at(location[:-1], family)
    return None if model is None else model.model_fields.get(str(location[-1]))


def _allowed(field: FieldInfo) -> str:
    """A field's bounds as a reader wants them: ``2 <= value <= 500``."""
    lower = upper = ""
    for meta in field.metadata:  # pydantic keeps bounds as annotated-types Ge/Gt/Le/Lt
        bounds = {name: getattr(meta, name, None) for name in ("ge", "gt", "le", "lt")}
        if bounds["ge"] is not None:
            lower = f"{bounds['ge']} <= "
        if bounds["gt"] is not None:
            lower = f"{bounds['gt']} < "
        if bounds["le"] is not None:
            upper = f" <= {bounds['le']}"
        if bounds["lt"] is not None:
            upper = f" < {bounds['lt']}"
    return f"{lower}value{upper}" if lower or upper else ""
