"""The Python client of the quantdesk service (httpx, sync and async)."""
