"""The web front end served by the API: login, protocol pages, later chat and dashboard.

See ``api/web/README.md`` for the session/CSRF design and how static files are served.
"""
