"""Answer shapes the client defines itself: the page envelope (the server's lives beside its
routes, out of the client's reach) and the shapes whose transport schema has not landed in
``quantdesk.api.schemas`` yet. Unknown fields are kept (``extra="allow"``), never dropped."""

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from quantdesk.api.schemas.auth import ApiKeyOut

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


class Health(_Open):
    """``/health``: the process answers (``status`` "ok"), and its version."""

    status: str
    version: str


class Component(_Open):
    """One thing ``/ready`` checks (database, job workers, catalog, engine)."""

    name: str
    ok: bool
    latency_ms: float
    detail: str | None = None


class Readiness(_Open):
    """``/ready``: ``ready`` when every component is ok."""

    status: str
    components: list[Component]


class ApiKeyCreated(_Open):
    """A new API key: its record and its secret, which the service shows this once."""

    key: ApiKeyOut
    secret: str

    def __repr__(self) -> str:
        return f"ApiKeyCreated(key={self.key!r}, secret=<hidden>)"

    __str__ = __repr__
