"""The minimum norms, loaded once per process and checked against the knowledge."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from fastapi import Depends

from api.knowledge_ref import get_knowledge
from knowledge.norms import Norm, load_norms


@lru_cache(maxsize=1)
def get_norms() -> dict[str, Norm]:
    knowledge = get_knowledge()
    return load_norms(protocols=set(knowledge.protocols), organisations=set(knowledge.organisations))


NormsDep = Annotated[dict[str, Norm], Depends(get_norms)]
