"""The Redis Streams bus against the real server: groups, acknowledgements, failures."""

import asyncio
import uuid
from pathlib import Path

import pytest

from quantdesk.adapters.messaging.redis_streams import RedisSignalBus
from quantdesk.domain.signal_routing import SignalEnvelope
from support.environment import require_service
from support.signals import raw_signal, signal, stack

pytestmark = pytest.mark.services
URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def prefix() -> str:
    require_service("127.0.0.1", 6379, "Redis")
    return f"quantdesk-test:{uuid.uuid4().hex}"


def _bus(prefix: str, **kwargs: object) -> RedisSignalBus:
    return RedisSignalBus(URL, prefix=prefix, **kwargs)  # type: ignore[arg-type]


def test_router_over_redis_delivers_retries_and_balances(tmp_path: Path, prefix: str) -> None:
    async def go() -> None:
        bus = _bus(prefix)
        s = stack(tmp_path, bus=bus, max_attempts=2)
        s.router.subscribe("alpha", [("SENTIMENT", "*")])
        s.router.subscribe("beta", [("*", "ACME.XNAS")])
        got: dict[str, list[str]] = {"alpha": [], "beta": []}
        poisoned: set[str] = set()

        def handler(name: str):  # type: ignore[no-untyped-def]
            def handle(envelope: SignalEnvelope) -> None:
                if name == "beta" and envelope.signal.signal_id in poisoned:
                    raise ValueError("cannot use this one")
                got[name].append(envelope.signal.signal_id)

            return handle

        alpha = s.router.consumer("alpha", handler("alpha"))
        beta = s.router.consumer("beta", handler("beta"))
        raws = [
            raw_signal("SENTIMENT", "ACME.XNAS"),
            raw_signal("SENTIMENT", "BTCUSDT.BINANCE"),
            raw_signal("REGIME_PREDICTION", "ACME.XNAS"),
            raw_signal("VOLATILITY_FORECAST", "EUR/USD.SIM"),
        ]
        poisoned.add(raws[2]["signal_id"])
        try:
            for raw in raws:
                assert (await s.router.route(raw)).accepted
            assert await bus.pending("alpha") == 2 and await bus.pending("beta") == 2
            for account in await s.router.accounts():
                assert account.balanced, account
            assert await alpha.poll(timeout_s=0.5) == 2
            await beta.drain()
            for account in await s.router.accounts():
                assert account.balanced and account.pending == 0, account
            assert got["alpha"] == [raws[0]["signal_id"], raws[1]["signal_id"]]
            assert got["beta"] == [raws[0]["signal_id"]]
            (letter,) = s.dead_letters.letters()
            assert (letter.consumer_id, letter.attempts) == ("beta", 2)

            poisoned.clear()
            await s.router.replay(None)  # durable bus: replay works without a local consumer
            assert await bus.pending("beta") == 1
            await beta.drain()
            assert got["beta"] == [raws[0]["signal_id"], raws[2]["signal_id"]]
            account = await s.router.account("beta")
            assert account.balanced and (account.delivered, account.pending) == (2, 0)
        finally:
            await bus.delete_streams()
            await bus.close()

    asyncio.run(go())


def test_a_dead_workers_signals_are_claimed_by_another(prefix: str) -> None:
    async def go() -> None:
        publisher = _bus(prefix)
        dead = _bus(prefix, worker="dead", claim_idle_s=0.05)
        alive = _bus(prefix, worker="alive", claim_idle_s=0.05)
        try:
            envelope = SignalEnvelope(signal(), "gamma", "corr", 1)
            await publisher.publish([envelope])
            taken = await dead.receive("gamma", max_count=10, timeout_s=0.5)
            assert [t.envelope for t in taken] == [envelope]  # read, never acknowledged
            assert await alive.receive("gamma", max_count=10, timeout_s=0) == []
            await asyncio.sleep(0.1)
            claimed = await alive.receive("gamma", max_count=10, timeout_s=0)
            assert [c.envelope for c in claimed] == [envelope]
            assert await publisher.pending("gamma") == 1
            await alive.ack("gamma", claimed[0].receipt)
            assert await publisher.pending("gamma") == 0
        finally:
            await publisher.delete_streams()
            for bus in (publisher, dead, alive):
                await bus.close()

    asyncio.run(go())
