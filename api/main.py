"""The FastAPI application: ``uvicorn api.main:app``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from api.audit.router import router as audit_router
from api.audit.service import AuditPathMiddleware
from api.auth.router import router as auth_router
from api.config import get_settings
from api.directory.router import router as directory_router
from api.follow_ups import rollup as _follow_up_rollup  # noqa: F401  (its flush listener)
from api.follow_ups.chat import router as follow_ups_chat_router
from api.follow_ups.router import indicators_router as follow_up_indicators_router
from api.follow_ups.router import router as follow_ups_router
from api.handovers.router import router as handovers_router
from api.ibis.router import router as ibis_router
from api.incidents.router import router as incidents_router
from api.indicators import rollup as _indicator_rollup  # noqa: F401  (registers the rollup's flush listeners)
from api.indicators.norms_ref import get_norms
from api.indicators.router import router as indicators_router
from api.knowledge_ref import get_knowledge
from api.locations.router import router as locations_router
from api.protocols.router import router as protocols_router
from api.records.router import router as records_router
from api.reminders.runner import start_background as start_reminders
from api.reviews.router import router as reviews_router
from api.security.deidentify import DeidentificationUnavailable
from api.security.deidentify import warm_up as warm_up_deidentification
from api.security.input import RejectNulMiddleware
from api.security.login_guard import LoginGuard
from api.security.logs import database_error, install_access_log_filter
from api.security.ratelimit import RateLimitMiddleware
from api.sessions.router import router as sessions_router
from api.teams.router import router as teams_router
from api.users.router import router as users_router
from api.web.setup import install_web


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    # Fail at start-up, not on the first recorded incident, when the knowledge
    # files do not validate.
    get_knowledge()
    get_norms()
    # deduce takes seconds to load: at start-up, not in the first request that stores a note.
    warm_up_deidentification()
    # Follow-up reminders and escalations (issue 15): only when e-mail is configured.
    reminders = start_reminders()
    yield
    if reminders is not None:
        reminders.stop()


def create_app() -> FastAPI:
    settings = get_settings()  # refuses to start on a default secret in production
    # Production: no /docs, /redoc, /openapi.json unless COA_API_DOCS=1 (issue 6).
    docs = settings.docs_enabled
    app = FastAPI(
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        title="COA case-guidance API",
        version="0.1.0",
        description="Incidents recorded by the assistant, locations and key-position holders.",
        lifespan=lifespan,
    )

    @app.exception_handler(DeidentificationUnavailable)
    async def deidentification_unavailable(_request: Request, _exc: DeidentificationUnavailable) -> JSONResponse:
        # Fail safe: the write was not committed, so no text is stored unchecked.
        return JSONResponse(
            status_code=503, content={"detail": "de-identification is unavailable: nothing was stored, try again"}
        )

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(auth_router)
    app.include_router(incidents_router)
    app.include_router(handovers_router)
    app.include_router(records_router)
    app.include_router(ibis_router)
    app.include_router(follow_ups_router)
    app.include_router(follow_up_indicators_router)
    app.include_router(follow_ups_chat_router)
    app.include_router(teams_router)
    app.include_router(locations_router)
    app.include_router(directory_router)
    app.include_router(users_router)
    app.include_router(sessions_router)
    app.include_router(reviews_router)
    app.include_router(indicators_router)
    app.include_router(protocols_router)
    install_web(app)  # pages, /static (incl. npm libraries), security headers
    app.include_router(audit_router)  # GET /api/v1/audit, admins only (issue 6)
    app.add_middleware(RateLimitMiddleware, login_rate=settings.login_rate, write_rate=settings.write_rate)
    app.state.login_guard = LoginGuard(settings.login_account_rate)  # per account (issue 14)
    app.add_exception_handler(SQLAlchemyError, database_error)  # no values in the log (issue 14)
    install_access_log_filter()
    app.add_middleware(RejectNulMiddleware)
    app.add_middleware(AuditPathMiddleware)
    return app


app = create_app()
