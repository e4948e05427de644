"""What the client raises: the service's problem-details answer, or no answer at all.

The service renders every refusal as ``application/problem+json`` (type, title, status,
detail, code, data, hint, correlation_id); the client hands those fields over unchanged so a
caller can branch on ``code`` and quote ``correlation_id`` when reporting a failure.
"""

from collections.abc import Mapping
from typing import Any

_DETAIL_MAX = 2_000  # a hostile or broken server cannot make an exception message unbounded


class QuantdeskApiError(Exception):
    """The service answered with an error status (4xx/5xx) and, normally, a problem body."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        correlation_id: str | None = None,
        data: Mapping[str, Any] | None = None,
        *,
        hint: str | None = None,
        retry_after_s: float | None = None,
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail[:_DETAIL_MAX]
        self.correlation_id = correlation_id
        self.data: dict[str, Any] = {} if data is None else dict(data)
        self.hint = hint
        self.retry_after_s = retry_after_s
        self.errors: list[dict[str, str]] = [] if errors is None else errors
        super().__init__(self._message())

    def _message(self) -> str:
        text = f"{self.status} {self.code}: {self.detail or self.title}"
        if self.errors:
            text += ": " + "; ".join(
                f"{e.get('field')}: {e.get('message')}" for e in self.errors[:5]
            )
        if self.hint:
            text += f" ({self.hint})"
        if self.correlation_id:
            text += f" [correlation id {self.correlation_id}]"
        return text


class QuantdeskConnectionError(Exception):
    """No answer: the service could not be reached or did not answer in time (after the
    retries a GET gets)."""

    def __init__(self, method: str, url: str, reason: str) -> None:
        self.method = method
        self.url = url
        self.reason = reason
        super().__init__(f"{method} {url}: {reason}")


class QuantdeskProtocolError(Exception):
    """The service answered 2xx but not what the client expects (wrong shape, not JSON):
    a version mismatch between client and server, never silently accepted."""
