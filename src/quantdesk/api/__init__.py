"""Ring 3: the REST + WebSocket service (arrives with its issue)."""
