"""The I/O-free half of the client, shared by the sync and the async one: what a call is,
which calls may be retried, how credentials go on a request, how an answer is decoded.

Only idempotent reads are retried (a POST that timed out may have been done: repeating it
could submit a second backtest), a bounded number of times with capped exponential backoff,
and only on failures that say "try again" (no connection, timeout, 502/503/504).
"""

import json as _json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from quantdesk.api.schemas.auth import TokenPairOut
from quantdesk.client.errors import QuantdeskApiError, QuantdeskProtocolError

T = TypeVar("T")

API_PREFIX = "/api/v1"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_STATUSES = frozenset({502, 503, 504})
PROBLEM_BODY_MAX = 64 * 1024  # a problem body is a few hundred bytes; more is not read
Params = Mapping[str, str | int | float | bool | None]
Decoder = Callable[[httpx.Response], T]


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries in all for an idempotent GET (1 = no retry); the waits between them
    double from ``backoff_s`` up to ``max_backoff_s``."""

    attempts: int = 3
    backoff_s: float = 0.2
    max_backoff_s: float = 2.0

    def __post_init__(self) -> None:
        if not 1 <= self.attempts <= 10:
            raise ValueError(f"attempts must be 1..10, got {self.attempts}")
        if self.backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError("backoff times must not be negative")

    def delay(self, failed_attempts: int) -> float:
        return float(min(self.max_backoff_s, self.backoff_s * 2 ** (failed_attempts - 1)))

    def retries(self, method: str) -> int:
        return self.attempts - 1 if method.upper() in IDEMPOTENT_METHODS else 0


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API call: where it goes, what it sends, how its 2xx answer becomes ``T``.

    ``refresh_on_401``: an expired access token is refreshed once and the call repeated
    (not for the auth routes themselves: a wrong password must stay a 401)."""

    method: str
    path: str
    decode: Decoder[T]
    params: Params | None = None
    json: Any = None
    files: Mapping[str, tuple[str, bytes, str]] | None = None
    data: Mapping[str, str] | None = None
    authenticated: bool = True
    refresh_on_401: bool = True
    answers: frozenset[int] = frozenset()
    """Error statuses whose body is an answer, decoded like a 2xx (``/ready``'s 503)."""

    def failed(self, response: httpx.Response) -> bool:
        return response.is_error and response.status_code not in self.answers


def path(*segments: str) -> str:
    """``/a/b`` from raw segments, each percent-quoted (an id never escapes its segment;
    ``@`` stays readable in ``id@version`` references)."""
    for segment in segments:
        if segment in ("", ".", ".."):
            raise ValueError(f"not a usable path segment: {segment!r}")
    return "/" + "/".join(quote(s, safe="@:") for s in segments)


def api_url(base_url: str) -> str:
    """The service root given by the user (``http://host:8000``, with or without the
    ``/api/v1`` suffix) as the base every call path is joined to."""
    base = base_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ValueError(f"the base URL must start with http:// or https://, got {base_url!r}")
    return base if base.endswith(API_PREFIX) else base + API_PREFIX


def ws_url(base_url: str) -> str:
    base = api_url(base_url)
    return (
        "wss://" + base[len("https://") :]
        if base.startswith("https://")
        else "ws://" + base[len("http://") :]
    ) + "/ws"


def clean_params(params: Mapping[str, Any]) -> dict[str, str | int | float | bool]:
    """Query parameters without the unset ones (None means "no filter")."""
    out: dict[str, str | int | float | bool] = {}
    for name, value in params.items():
        if value is None:
            continue
        out[name] = value.value if hasattr(value, "value") else value
    return out


def model(type_: Any) -> Decoder[Any]:
    """Decode a JSON answer into ``type_`` (a pydantic model, ``list[...]``, ...); an answer of
    another shape is a QuantdeskProtocolError naming the route, never a half-filled object."""
    adapter: TypeAdapter[Any] = TypeAdapter(type_)

    def decode(response: httpx.Response) -> Any:
        try:
            return adapter.validate_json(response.content)
        except ValidationError as exc:
            raise QuantdeskProtocolError(
                f"{response.request.method} {response.request.url.path}: the answer does not "
                f"match {adapter_name(type_)} ({exc.error_count()} problems, first: "
                f"{exc.errors()[0]['msg']} at {'.'.join(map(str, exc.errors()[0]['loc']))})"
            ) from None

    return decode


def adapter_name(type_: Any) -> str:
    return getattr(type_, "__name__", None) or str(type_)


def content(response: httpx.Response) -> bytes:
    return response.content


def text(response: httpx.Response) -> str:
    return response.text


def nothing(response: httpx.Response) -> None:
    return None


def problem_error(response: httpx.Response) -> QuantdeskApiError:
    """The QuantdeskApiError of an error answer: the problem body's fields when there is one,
    else the status line (a proxy's HTML page is not parsed)."""
    body: dict[str, Any] = {}
    kind = response.headers.get("content-type", "")
    if ("json" in kind) and len(response.content) <= PROBLEM_BODY_MAX:
        try:
            parsed = response.json()
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            body = parsed
    title = _text(body.get("title")) or response.reason_phrase or "error"
    data = body.get("data")
    return QuantdeskApiError(
        status=response.status_code,
        code=_text(body.get("code")) or _code_of_status(response.status_code),
        title=title,
        detail=_text(body.get("detail")) or title,
        correlation_id=_text(body.get("correlation_id")) or response.headers.get("x-request-id"),
        data=data if isinstance(data, dict) else None,
        hint=_text(body.get("hint")),
        retry_after_s=_retry_after(response),
        errors=_field_errors(body.get("errors")),
    )


def _field_errors(value: object) -> list[dict[str, str]] | None:
    """A validation problem's ``errors`` (field + message each), bounded."""
    if not isinstance(value, list):
        return None
    found = []
    for item in value[:50]:
        if isinstance(item, dict):
            found.append(
                {
                    "field": str(item.get("field", ""))[:200],
                    "message": str(item.get("message", ""))[:500],
                }
            )
    return found


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _code_of_status(status: int) -> str:
    return {
        401: "unauthenticated",
        403: "forbidden",
        404: "not_found",
        409: "conflict",
        422: "invalid_input",
        429: "rate_limited",
    }.get(status, "internal" if status >= 500 else "error")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: not worth a parser here


def retryable_status(method: str, status: int) -> bool:
    return method.upper() in IDEMPOTENT_METHODS and status in RETRY_STATUSES


@dataclass
class Waiting:
    """A bounded wait for something to finish: polled every ``poll_s`` until ``timeout_s``."""

    what: str
    timeout_s: float
    poll_s: float
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if not (self.timeout_s > 0 and 0 < self.poll_s <= self.timeout_s):
            raise ValueError("timeout_s must be > 0 and poll_s in (0, timeout_s]")

    def check(self, state: str) -> None:
        """TimeoutError once the time is up (the job itself goes on: cancel it if need be)."""
        if time.monotonic() - self.started >= self.timeout_s:
            raise TimeoutError(f"{self.what} is still {state} after {self.timeout_s:g} s")


@dataclass
class Credentials:
    """What the client authenticates with: an API key, or an access token (with the refresh
    token that renews it). ``generation`` counts token changes, so that of several requests
    that met the same expired token only the first refreshes (a refresh token is spent by its
    use: refreshing twice would revoke the whole login)."""

    access_token: str | None = None
    refresh_token: str | None = None
    api_key: str | None = None
    generation: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __repr__(self) -> str:  # never a secret in a repr, a log line or a traceback
        held = [n for n in ("access_token", "refresh_token", "api_key") if getattr(self, n)]
        return f"Credentials(holding={held}, generation={self.generation})"

    def credential(self) -> str | None:
        return self.api_key if self.api_key is not None else self.access_token

    def headers(self) -> dict[str, str]:
        held = self.credential()
        return {} if held is None else {"Authorization": f"Bearer {held}"}

    def can_refresh(self) -> bool:
        return self.api_key is None and self.refresh_token is not None

    def store(self, tokens: TokenPairOut) -> None:
        self.access_token = tokens.access_token
        self.refresh_token = tokens.refresh_token
        self.generation += 1

    def forget(self) -> None:
        self.access_token = None
        self.refresh_token = None
        self.generation += 1


# building calls -----------------------------------------------------------------------

Json = dict[str, Any]


def public(call: Call[T]) -> Call[T]:
    """A call that sends no credentials (login, health): a 401 there is the answer itself."""
    return replace(call, authenticated=False, refresh_on_401=False)


def get(route: str, answer: Any, **params: Any) -> Call[Any]:
    return Call("GET", route, model(answer), params=clean_params(params) or None)


def post(route: str, answer: Any, body: Any = None) -> Call[Any]:
    return Call("POST", route, model(answer), json=as_json(body))


def as_json(body: Any) -> Any:
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json")
    if isinstance(body, Mapping):
        return {k: as_json(v) for k, v in body.items()}
    if isinstance(body, list | tuple):
        return [as_json(v) for v in body]
    return body


def dumps(value: Mapping[str, Any]) -> str:
    return _json.dumps(as_json(value))
