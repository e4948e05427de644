"""Field-level differences between two versions of a definition."""

import json
from dataclasses import dataclass
from typing import Literal

from pydantic import (
    JsonValue,
)

from quantdesk.domain.strategies.canonical import canonical_json
from quantdesk.domain.strategies.definition import StrategyDefinition


def diff_definitions(old: StrategyDefinition, new: StrategyDefinition) -> list["FieldChange"]:
    """Field-level changes between two definitions' content, in field order (dotted paths)."""
    changes: list[FieldChange] = []
    _diff(old.content(), new.content(), (), changes)
    return changes


@dataclass(frozen=True)
class FieldChange:
    path: str
    old: JsonValue
    new: JsonValue
    kind: Literal["changed", "added", "removed"]


_ABSENT = object()


def _diff(old: object, new: object, path: tuple[str, ...], out: list[FieldChange]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            _diff(old.get(key, _ABSENT), new.get(key, _ABSENT), (*path, key), out)
        return
    if old == new:
        return
    where = ".".join(path)
    if old is _ABSENT:
        out.append(FieldChange(where, None, _as_json(new), "added"))
    elif new is _ABSENT:
        out.append(FieldChange(where, _as_json(old), None, "removed"))
    else:
        out.append(FieldChange(where, _as_json(old), _as_json(new), "changed"))


def _as_json(value: object) -> JsonValue:
    loaded: JsonValue = json.loads(canonical_json(value))
    return loaded
