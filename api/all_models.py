"""Imports every domain's models so that ``Base.metadata`` knows all tables.

Used by Alembic's env.py and by the tests' ``create_all``.
"""

from api.audit.models import AuditEntry
from api.auth.models import LoginSession, LoginSessionEnd, UserAccount
from api.directory.models import KeyPositionAssignment
from api.follow_ups.models import FollowUp, FollowUpDay, FollowUpEvent, OpenFollowUp
from api.handovers.models import IncidentHandover
from api.incidents.models import Incident, IncidentReviewEvent
from api.indicators import models as indicator_indexes  # noqa: F401  (indexes for the indicators)
from api.locations.models import Location
from api.models_base import Base
from api.reminders.models import FollowUpNotification
from api.sessions.models import GuidanceSession, SessionEvent
from api.teams.models import TeamsConversation

__all__ = [
    "AuditEntry",
    "Base",
    "FollowUp",
    "FollowUpDay",
    "FollowUpEvent",
    "FollowUpNotification",
    "GuidanceSession",
    "Incident",
    "IncidentHandover",
    "IncidentReviewEvent",
    "KeyPositionAssignment",
    "Location",
    "LoginSession",
    "LoginSessionEnd",
    "OpenFollowUp",
    "SessionEvent",
    "TeamsConversation",
    "UserAccount",
]
