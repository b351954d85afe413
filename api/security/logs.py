"""No personal data in the API's logs (issue 14, finding 6).

* Access log: uvicorn writes the request line with its query string, and a query
  string can hold a search term (``/sessies?q=…``) or a filter on a person. The
  filter below cuts the query string from every ``uvicorn.access`` record.
* Database errors: SQLAlchemy's message carries the statement's parameters (an
  answer, a note) and the database's own message may quote a value. The engine
  hides parameters (``api/db.py``), and a database error is answered here with a
  plain 500 and ONE log line with the error class, SQLSTATE and the path only, so
  no traceback with values reaches the log.
"""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

ACCESS_LOGGER = "uvicorn.access"
error_log = logging.getLogger("api.errors")


class DropQueryString(logging.Filter):
    """uvicorn's access record has args (client, method, path with query, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def install_access_log_filter() -> None:
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(existing, DropQueryString) for existing in logger.filters):
        logger.addFilter(DropQueryString())


def database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SQLAlchemyError)
    original = exc.orig if isinstance(exc, DBAPIError) else None
    sqlstate = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None) or "-"
    error_log.error(
        "database error %s (%s, SQLSTATE %s) on %s %s",
        type(exc).__name__,
        type(original).__name__ if original is not None else "-",
        sqlstate,
        request.method,
        request.url.path,
    )
    return JSONResponse({"detail": "database error; nothing was stored"}, status_code=500)
