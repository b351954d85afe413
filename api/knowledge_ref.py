"""The protocol/organisation knowledge, loaded once per process.

The app calls ``get_knowledge()`` in its lifespan so that a broken knowledge file
stops the API at start-up instead of failing the first incident that is recorded.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from fastapi import Depends

from knowledge import Knowledge, load_knowledge


@lru_cache(maxsize=1)
def get_knowledge() -> Knowledge:
    return load_knowledge()


KnowledgeDep = Annotated[Knowledge, Depends(get_knowledge)]
