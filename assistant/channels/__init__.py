"""Custom Rasa input/output channels.

``assistant.channels.teams.TeamsInput``: Microsoft Teams through the Bot Framework
(docs/teams.md). The package ``__init__`` imports nothing, so that the
standard-library-only helpers (``teams_identity``) can be imported from the API
environment too (the end-to-end tests do).
"""
