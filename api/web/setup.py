"""``install_web(app)``: routes, static files, security headers and the login redirect."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from api.config import REPO_ROOT, get_settings
from api.web.actions import follow_up_badge
from api.web.actions import router as actions_router
from api.web.chat import router as chat_router
from api.web.dashboard import router as dashboard_router
from api.web.directory import router as directory_router
from api.web.pages import STATIC_DIR, LoginRequired, PageForbidden, forbidden_page, login_redirect
from api.web.records import router as records_router
from api.web.router import router
from api.web.security import SecurityHeadersMiddleware, StaticGZipMiddleware
from api.web.users import router as users_router

NODE_MODULES = REPO_ROOT / "node_modules"

#: Front-end libraries installed by `npm ci` (package.json), served from this origin:
#: URL name under /static/vendor/ → folder under node_modules/. Nothing comes from a CDN.
VENDOR: dict[str, str] = {
    "mermaid": "mermaid/dist",
    "chartjs": "chart.js/dist",
    # socket.io-client 4: the protocol of python-socketio 5 (Rasa's socket.io channel).
    "socket.io": "socket.io-client/dist",
}


def install_web(app: FastAPI) -> None:
    for name, folder in VENDOR.items():
        # check_dir=False: the API still starts before `npm ci` has run; the files
        # then answer 404 and the page says the chart cannot be drawn.
        app.mount(
            f"/static/vendor/{name}",
            StaticFiles(directory=NODE_MODULES / folder, check_dir=False),
            name=f"vendor-{name}",
        )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Every page shows the open and overdue follow-ups in its header (issue 15).
    badge = [Depends(follow_up_badge)]
    app.include_router(router, dependencies=badge)
    app.include_router(dashboard_router, dependencies=badge)
    app.include_router(chat_router, dependencies=badge)
    app.include_router(directory_router, dependencies=badge)
    app.include_router(users_router, dependencies=badge)
    app.include_router(actions_router, dependencies=badge)
    app.include_router(records_router, dependencies=badge)
    app.add_exception_handler(LoginRequired, login_redirect)
    app.add_exception_handler(PageForbidden, forbidden_page)
    app.add_middleware(StaticGZipMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, production=get_settings().env == "production")
