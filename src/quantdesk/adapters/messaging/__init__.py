"""Signal buses: in-process (asyncio queues) and Redis Streams, behind the ``SignalBus`` port."""
