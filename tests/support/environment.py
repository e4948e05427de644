"""Where tests find shared data and services, and what they do when those are absent."""

import os
import socket
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def shared_file(name: str) -> Path:
    """A file of ../shared/data, or a skip that says why (a clone without ../shared)."""
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} is absent: ../shared/data is only beside the project in CI")
    return path


def require_service(host: str, port: int, name: str) -> None:
    """Skip when the server is absent, unless CI demands it (QUANTDESK_REQUIRE_SERVICES=1)."""
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        if os.environ.get("QUANTDESK_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{name} at {host}:{port} is required (QUANTDESK_REQUIRE_SERVICES=1)")
        pytest.skip(f"{name} at {host}:{port} is not reachable")
