"""Imports every domain's models so that ``Base.metadata`` knows all tables.

Used by Alembic's env.py and by the tests' ``create_all``.
"""

from api.auth.models import UserAccount
from api.incidents.models import Incident, IncidentReviewEvent
from api.locations.models import KeyPositionHolder, Location
from api.models_base import Base

__all__ = ["Base", "Incident", "IncidentReviewEvent", "KeyPositionHolder", "Location", "UserAccount"]
