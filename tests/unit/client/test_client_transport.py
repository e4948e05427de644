"""The client's transport on a mock server (httpx.MockTransport): problem bodies become
QuantdeskApiError, an expired token is renewed once, only reads are retried, and no secret
shows in a repr or an error."""

import asyncio
import json

import httpx
import pytest

from quantdesk.client import (
    AsyncQuantdeskClient,
    QuantdeskApiError,
    QuantdeskClient,
    QuantdeskConnectionError,
    QuantdeskProtocolError,
    RetryPolicy,
)
from quantdesk.client._transport import api_url, path, ws_url

BASE = "http://qd.test"
NO_WAIT = RetryPolicy(attempts=3, backoff_s=0.0)
ME = {"user_id": "u1", "username": "alice", "role": "researcher", "via": "token"}


def tokens(n: int) -> dict[str, object]:
    return {
        "access_token": f"access-{n}",
        "refresh_token": f"refresh-{n}",
        "token_type": "bearer",
        "expires_in": 900,
    }


def problem(status: int, code: str, **extra: object) -> httpx.Response:
    body = {
        "type": f"/problems/{code}",
        "title": code.replace("_", " "),
        "status": status,
        "detail": f"detail of {code}",
        "code": code,
        "data": {"flag": "strategy_export"},
        "hint": None,
        "correlation_id": "cid-123",
        **extra,
    }
    return httpx.Response(
        status, content=json.dumps(body), headers={"content-type": "application/problem+json"}
    )


class Server:
    """A scripted server: the access token ``access-N`` is valid only for the newest N."""

    def __init__(self) -> None:
        self.issued = 0
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        route = request.url.path.removeprefix("/api/v1")
        if route == "/auth/login":
            body = json.loads(request.content)
            if body["password"] != "right-password":
                return problem(401, "unauthenticated")
            self.issued += 1
            return httpx.Response(200, json=tokens(self.issued))
        if route == "/auth/refresh":
            body = json.loads(request.content)
            if body["refresh_token"] != f"refresh-{self.issued}":
                return problem(401, "unauthenticated")
            self.issued += 1
            return httpx.Response(200, json=tokens(self.issued))
        if route == "/auth/me":
            if request.headers.get("authorization") != f"Bearer access-{self.issued}":
                return problem(401, "unauthenticated")
            return httpx.Response(200, json=ME)
        return problem(404, "not_found")

    def routes(self) -> list[str]:
        return [r.url.path.removeprefix("/api/v1") for r in self.seen]


def test_a_problem_body_becomes_the_error_with_every_field() -> None:
    client = QuantdeskClient(
        BASE, transport=httpx.MockTransport(lambda r: problem(403, "feature_disabled"))
    )
    with pytest.raises(QuantdeskApiError) as raised:
        client.me()
    error = raised.value
    assert (error.status, error.code, error.title) == (403, "feature_disabled", "feature disabled")
    assert error.detail == "detail of feature_disabled"
    assert error.correlation_id == "cid-123"
    assert error.data == {"flag": "strategy_export"}
    assert "cid-123" in str(error)


def test_an_error_without_a_problem_body_is_named_by_its_status() -> None:
    def html(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, content=b"<html>nope</html>", headers={"x-request-id": "r-9"})

    with pytest.raises(QuantdeskApiError) as raised:
        QuantdeskClient(BASE, transport=httpx.MockTransport(html)).me()
    assert (raised.value.status, raised.value.code, raised.value.correlation_id) == (
        404,
        "not_found",
        "r-9",
    )


def test_a_retry_after_header_is_kept() -> None:
    def limited(request: httpx.Request) -> httpx.Response:
        response = problem(429, "rate_limited")
        response.headers["retry-after"] = "42"
        return response

    with pytest.raises(QuantdeskApiError) as raised:
        QuantdeskClient(BASE, transport=httpx.MockTransport(limited)).login("alice", "x" * 12)
    assert raised.value.retry_after_s == 42.0


def test_an_answer_of_the_wrong_shape_is_refused_not_half_read() -> None:
    def wrong(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"user_id": "u1"})

    with pytest.raises(QuantdeskProtocolError, match="/api/v1/auth/me"):
        QuantdeskClient(BASE, transport=httpx.MockTransport(wrong)).me()


def test_a_failed_renewal_is_tried_once_and_its_401_raised() -> None:
    server = Server()
    client = QuantdeskClient(BASE, transport=httpx.MockTransport(server))
    client.login("alice", "right-password")
    server.issued = 5  # access-1 expired and refresh-1 spent: the renewal fails
    with pytest.raises(QuantdeskApiError) as raised:
        client.me()
    assert raised.value.status == 401
    assert server.routes() == ["/auth/login", "/auth/me", "/auth/refresh"]


def test_renewal_succeeds_and_the_new_tokens_are_kept() -> None:
    server = Server()
    client = QuantdeskClient(BASE, transport=httpx.MockTransport(server))
    client.login("alice", "right-password")
    client.credentials.access_token = "access-0"  # as if it expired
    assert client.me().username == "alice"
    assert server.routes() == ["/auth/login", "/auth/me", "/auth/refresh", "/auth/me"]
    assert client.credentials.access_token == "access-2"
    assert client.credentials.refresh_token == "refresh-2"


def test_a_wrong_password_is_a_401_and_never_triggers_a_renewal() -> None:
    server = Server()
    client = QuantdeskClient(BASE, transport=httpx.MockTransport(server), refresh_token="refresh-0")
    with pytest.raises(QuantdeskApiError) as raised:
        client.login("alice", "wrong-password")
    assert raised.value.code == "unauthenticated"
    assert server.routes() == ["/auth/login"]


def test_an_api_key_is_sent_as_bearer_and_never_renewed() -> None:
    server = Server()
    client = QuantdeskClient(BASE, api_key="qdk_secret", transport=httpx.MockTransport(server))
    with pytest.raises(QuantdeskApiError):
        client.me()
    assert server.routes() == ["/auth/me"]
    assert server.seen[0].headers["authorization"] == "Bearer qdk_secret"


def test_reads_are_retried_a_bounded_number_of_times_writes_never() -> None:
    seen: list[str] = []

    def unavailable(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        return problem(503, "catalog_error")

    client = QuantdeskClient(BASE, transport=httpx.MockTransport(unavailable), retry=NO_WAIT)
    with pytest.raises(QuantdeskApiError):
        client.me()
    assert seen == ["GET"] * 3
    seen.clear()
    with pytest.raises(QuantdeskApiError):
        client.login("alice", "x" * 12)
    assert seen == ["POST"]


def test_a_read_that_recovers_after_a_failed_connection_succeeds() -> None:
    attempts: list[int] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        if len(attempts) == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"status": "ok", "version": "1.0"})

    client = QuantdeskClient(BASE, transport=httpx.MockTransport(flaky), retry=NO_WAIT)
    assert client.health().status == "ok"
    assert len(attempts) == 2


def test_no_answer_at_all_is_a_connection_error_for_a_write_after_one_try() -> None:
    attempts: list[str] = []

    def down(request: httpx.Request) -> httpx.Response:
        attempts.append(request.method)
        raise httpx.ConnectError("refused", request=request)

    client = QuantdeskClient(BASE, transport=httpx.MockTransport(down), retry=NO_WAIT)
    with pytest.raises(QuantdeskConnectionError, match="POST"):
        client.login("alice", "right-password")
    assert attempts == ["POST"]


def test_secrets_stay_out_of_reprs_and_errors() -> None:
    server = Server()
    client = QuantdeskClient(BASE, transport=httpx.MockTransport(server))
    client.login("alice", "right-password")
    text = repr(client.credentials) + repr(vars(client))
    assert "access-1" not in text and "refresh-1" not in text
    with pytest.raises(QuantdeskApiError) as raised:
        client.login("alice", "wrong-password")
    assert "wrong-password" not in str(raised.value) + repr(raised.value.data)


def test_concurrent_calls_that_meet_an_expired_token_renew_it_once() -> None:
    server = Server()

    async def scenario() -> list[str]:
        async with AsyncQuantdeskClient(BASE, transport=httpx.MockTransport(server)) as client:
            await client.login("alice", "right-password")
            client.credentials.access_token = "access-0"
            results = await asyncio.gather(*(client.me() for _ in range(10)))
            return [r.username for r in results]

    assert asyncio.run(scenario()) == ["alice"] * 10
    assert server.routes().count("/auth/refresh") == 1


def test_path_segments_are_quoted_and_dot_segments_refused() -> None:
    assert path("strategies", "trend-a@3") == "/strategies/trend-a@3"
    assert path("jobs", "a/b?c") == "/jobs/a%2Fb%3Fc"
    with pytest.raises(ValueError):
        path("jobs", "..")


def test_base_urls() -> None:
    assert api_url("http://h:8000/") == "http://h:8000/api/v1"
    assert api_url("http://h:8000/api/v1") == "http://h:8000/api/v1"
    assert ws_url("https://h") == "wss://h/api/v1/ws"
    with pytest.raises(ValueError):
        api_url("ftp://h")


def test_a_validation_problem_names_its_fields_bounded() -> None:
    fields = [{"field": f"body.f{i}", "message": "field required"} for i in range(80)]

    def invalid(request: httpx.Request) -> httpx.Response:
        return problem(422, "invalid_input", errors=fields)

    with pytest.raises(QuantdeskApiError) as raised:
        QuantdeskClient(BASE, transport=httpx.MockTransport(invalid)).me()
    assert raised.value.errors[0] == {"field": "body.f0", "message": "field required"}
    assert len(raised.value.errors) == 50
    assert "body.f0: field required" in str(raised.value)
