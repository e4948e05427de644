"""Answer shapes the client defines itself: the page envelope (the server's lives beside its
routes, out of the client's reach) and the shapes whose transport schema has not landed in
``quantdesk.api.schemas`` yet. Unknown fields are kept (``extra="allow"``), never dropped."""

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class _Open(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class Page(_Open, Generic[T]):
    """One window of a list: ``next_offset`` is where the next one starts (None: last)."""

    items: list[T]
    total: int = Field(ge=0)
    limit: int = Field(ge=1)
    offset: int = Field(ge=0)
    next_offset: int | None = None


class Component(_Open):
    status: str
    latency_ms: float | None = None
    detail: str | None = None


class Readiness(_Open):
    """``/ready``: each component's status and latency."""

    status: str
    components: dict[str, Any] = Field(default_factory=dict)
