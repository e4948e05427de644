"""Router details: backoff is deterministic with a seeded RNG, dead letters replay, events."""

import asyncio
import json
from pathlib import Path

import pytest

from quantdesk.domain.errors import InvalidInputError, NotFoundError
from quantdesk.domain.signal_routing import SignalEnvelope
from quantdesk.services.signal_routing import RetryPolicy
from support.signals import raw_signal, stack


def test_backoff_grows_with_jitter_and_is_reproducible(tmp_path: Path) -> None:
    def run(root: Path) -> list[float]:
        s = stack(root, seed=11, max_attempts=4)
        s.router.subscribe("flaky", [("SENTIMENT", "*")])

        def fail(envelope: SignalEnvelope) -> None:
            raise RuntimeError("down")

        consumer = s.router.consumer("flaky", fail)

        async def go() -> None:
            await s.router.route(raw_signal())
            await consumer.drain()

        asyncio.run(go())
        letters = s.dead_letters.letters()
        assert len(letters) == 1 and letters[0].attempts == 4
        assert letters[0].reason == "RuntimeError: down"
        return s.delays

    first, second = run(tmp_path / "a"), run(tmp_path / "b")
    assert first == second and len(first) == 3
    for attempt, delay in enumerate(first, start=1):
        ceiling = min(0.1, 0.01 * 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling


def test_retry_policy_rejects_nonsense() -> None:
    with pytest.raises(InvalidInputError):
        RetryPolicy(max_attempts=0)


def test_dead_letters_replay_to_their_consumer(tmp_path: Path) -> None:
    s = stack(tmp_path, max_attempts=2)
    s.router.subscribe("strat", [("*", "ACME.XNAS")])
    healthy = False
    got: list[str] = []

    def handle(envelope: SignalEnvelope) -> None:
        if not healthy:
            raise ConnectionError("strategy not ready")
        got.append(envelope.signal.signal_id)

    consumer = s.router.consumer("strat", handle)
    raw = raw_signal()

    async def go() -> None:
        nonlocal healthy
        result = await s.router.route(raw, correlation_id="corr-1")
        assert result.consumers == ("strat",)
        await consumer.drain()
        account = await s.router.account("strat")
        assert (account.accepted, account.delivered, account.dead_lettered) == (1, 0, 1)
        assert account.balanced
        with pytest.raises(NotFoundError):
            await s.router.replay(["nope"])
        healthy = True
        replayed = await s.router.replay([raw["signal_id"]])
        assert len(replayed) == 1
        account = await s.router.account("strat")
        assert (account.dead_lettered, account.pending) == (0, 1) and account.balanced
        await consumer.drain()
        account = await s.router.account("strat")
        assert (account.delivered, account.pending) == (1, 0) and account.balanced

    asyncio.run(go())
    assert got == [raw["signal_id"]]
    assert s.dead_letters.letters() == []
    assert len(s.dead_letters.letters(include_replayed=True)) == 1

    kinds = [e["kind"] for e in s.events.events() if e["signal_id"] == raw["signal_id"]]
    assert kinds == [
        "accepted",
        "published",
        "consumed",
        "retry",
        "dead_lettered",
        "replayed",
        "consumed",
        "delivered",
    ]
    assert {e["correlation_id"] for e in s.events.events()} == {"corr-1"}


def test_replay_refuses_when_nobody_could_receive(tmp_path: Path) -> None:
    s = stack(tmp_path, max_attempts=1)
    s.router.subscribe("gone", [("*", "*")])

    def fail(envelope: SignalEnvelope) -> None:
        raise RuntimeError("x")

    consumer = s.router.consumer("gone", fail)

    async def go() -> None:
        await s.router.route(raw_signal())
        await consumer.drain()

    asyncio.run(go())
    fresh = stack(tmp_path, max_attempts=1)  # another process: in-process bus, no consumer
    with pytest.raises(InvalidInputError, match="reach nobody"):
        asyncio.run(fresh.router.replay(None))


def test_a_bus_that_fails_to_publish_dead_letters_instead_of_losing(tmp_path: Path) -> None:
    class BrokenBus:
        durable = True

        async def publish(self, envelopes: object) -> None:
            raise ConnectionError("redis://user:secret@host down")

        async def pending(self, consumer_id: str) -> int:
            return 0

    s = stack(tmp_path, bus=BrokenBus())  # type: ignore[arg-type]
    s.router.subscribe("a", [("*", "*")])
    result = asyncio.run(s.router.route(raw_signal()))
    assert result.accepted
    account = asyncio.run(s.router.account("a"))
    assert (account.accepted, account.dead_lettered) == (1, 1) and account.balanced
    (letter,) = s.dead_letters.letters()
    assert "secret" not in letter.reason
    s.events.flush()
    log = "".join(p.read_text() for p in (tmp_path / "signals" / "events").glob("*.jsonl"))
    assert "secret" not in log and json.loads(log.splitlines()[0])["kind"] == "accepted"
