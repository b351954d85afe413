"""The COA case-guidance API: incidents, locations and key positions, auth.

Entry point: ``uvicorn api.main:app``. Schema changes go through Alembic
(``alembic upgrade head`` from the repository root), demo data through
``python -m api.seed``.
"""
