"""The FastAPI application: ``uvicorn api.main:app``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.auth.router import router as auth_router
from api.incidents.router import router as incidents_router
from api.indicators.norms_ref import get_norms
from api.indicators.router import router as indicators_router
from api.knowledge_ref import get_knowledge
from api.locations.router import router as locations_router
from api.protocols.router import router as protocols_router
from api.reviews.router import router as reviews_router
from api.sessions.router import router as sessions_router
from api.web.setup import install_web


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    # Fail at start-up, not on the first recorded incident, when the knowledge
    # files do not validate.
    get_knowledge()
    get_norms()
    yield


def create_app() -> FastAPI:
    app = FastAPI(
        title="COA case-guidance API",
        version="0.1.0",
        description="Incidents recorded by the assistant, locations and key-position holders.",
        lifespan=lifespan,
    )

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(auth_router)
    app.include_router(incidents_router)
    app.include_router(locations_router)
    app.include_router(sessions_router)
    app.include_router(reviews_router)
    app.include_router(indicators_router)
    app.include_router(protocols_router)
    install_web(app)  # pages, /static (incl. npm libraries), security headers
    return app


app = create_app()
