"""Fixtures shared by the integration tests (real servers started by the tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from http_server import LocalHttpServer


@pytest.fixture(scope="session")
def http_server() -> Iterator[LocalHttpServer]:
    """A real HTTP server on 127.0.0.1 (endpoints: see tests/integration/http_server.py)."""
    with LocalHttpServer.start() as server:
        yield server
