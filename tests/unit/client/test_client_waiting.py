"""Waiting for a job: polled until it has finished, or a TimeoutError naming its state
(the job itself goes on); the same in the async client. Downloads come back as bytes."""

import asyncio
import itertools

import httpx
import pytest

from quantdesk.client import AsyncQuantdeskClient, QuantdeskClient

JOB_ID = "a" * 32


def job(state: str) -> dict[str, object]:
    return {
        "job_id": JOB_ID,
        "kind": "backtest",
        "state": state,
        "subject": "run-1",
        "payload": {"run_id": "run-1"},
        "submitted_by": "alice",
        "correlation_id": "c1",
        "created_ns": 1,
        "started_ns": None,
        "finished_ns": None,
        "progress": 0.0,
        "eta_seconds": None,
        "message": None,
        "result": None,
        "error": None,
        "error_code": None,
    }


def scripted(*states: str) -> httpx.MockTransport:
    answers = itertools.chain(states, itertools.repeat(states[-1]))

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"/api/v1/jobs/{JOB_ID}"
        return httpx.Response(200, json=job(next(answers)))

    return httpx.MockTransport(handler)


def test_a_job_is_polled_until_it_has_finished() -> None:
    client = QuantdeskClient(
        "http://qd.test", transport=scripted("pending", "running", "cancelled")
    )
    assert client.wait_for_job(JOB_ID, timeout_s=5, poll_s=0.01).state == "cancelled"


def test_a_job_that_does_not_finish_in_time_is_a_timeout_naming_its_state() -> None:
    client = QuantdeskClient("http://qd.test", transport=scripted("running"))
    with pytest.raises(TimeoutError, match=f"job {JOB_ID} is still running"):
        client.wait_for_job(JOB_ID, timeout_s=0.05, poll_s=0.01)


def test_the_async_client_waits_the_same_way() -> None:
    async def scenario() -> str:
        transport = httpx.MockTransport(scripted("pending", "completed").handler)
        async with AsyncQuantdeskClient("http://qd.test", transport=transport) as client:
            return (await client.wait_for_job(JOB_ID, timeout_s=5, poll_s=0.01)).state.value

    assert asyncio.run(scenario()) == "completed"


def test_waiting_needs_a_positive_timeout_and_poll() -> None:
    client = QuantdeskClient("http://qd.test", transport=scripted("running"))
    with pytest.raises(ValueError):
        client.wait_for_job(JOB_ID, timeout_s=0, poll_s=0.01)


def test_a_download_is_the_bytes_as_sent() -> None:
    data = b"PAR1\x00\x01binary"

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["format"] == "parquet"
        return httpx.Response(
            200, content=data, headers={"content-type": "application/octet-stream"}
        )

    client = QuantdeskClient("http://qd.test", transport=httpx.MockTransport(handler))
    assert client.download_run("run-1", "fills", "parquet") == data
