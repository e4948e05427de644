"""One page of a list: every list route takes ``limit``/``offset`` and answers a ``Page``."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")

PAGE_LIMIT_DEFAULT = 50
PAGE_LIMIT_MAX = 500
PAGE_OFFSET_MAX = 10**9


@dataclass(frozen=True)
class PageParams:
    """The window a client asked for (bounded by ``deps.page()``)."""

    limit: int = PAGE_LIMIT_DEFAULT
    offset: int = 0


class Page(BaseModel, Generic[T]):
    """Items of one window, the total matching count, and where the next window starts
    (None on the last page)."""

    items: list[T]
    total: int = Field(ge=0)
    limit: int = Field(ge=1)
    offset: int = Field(ge=0)
    next_offset: int | None = Field(default=None, ge=0)


def page_of(items: Sequence[T], total: int, params: PageParams) -> Page[T]:
    """The page of ``items`` (already limited and offset by the store) out of ``total``."""
    end = params.offset + len(items)
    return Page[T](
        items=list(items),
        total=total,
        limit=params.limit,
        offset=params.offset,
        next_offset=end if end < total and items else None,
    )
