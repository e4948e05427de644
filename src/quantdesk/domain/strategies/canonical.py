"""Canonical JSON: one spelling per value, so equal content always hashes the same."""

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import (
    BaseModel,
)


def canonical_json(value: object) -> str:
    """Sorted keys, no spaces, UTF-8 kept: the same value always gives the same bytes."""
    return json.dumps(
        canonical_value(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def canonical_value(value: object) -> Any:
    if isinstance(value, BaseModel):
        return canonical_value(value.model_dump(mode="python"))
    if isinstance(value, Mapping):
        return {str(k): canonical_value(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(canonical_value(v) for v in value)
    if isinstance(value, list | tuple):
        return [canonical_value(v) for v in value]
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return "0" if text in {"-0", "0"} else text
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return value
