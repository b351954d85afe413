from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.channels.fake_connector import FakeConnector


@pytest.fixture(scope="module")
def connector() -> Iterator[FakeConnector]:
    running = FakeConnector().start()
    try:
        yield running
    finally:
        running.stop()
