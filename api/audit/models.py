"""``audit_log``: append-only (database triggers refuse UPDATE and DELETE).

One row per read of case data by a person, and per change of the directory or of a
user account: who (pseudonymous ``sub`` and role), what (object type and ids; never
content), when, and through which path.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, JSON, Index, String, event
from sqlalchemy.orm import Mapped, mapped_column

from api.models_base import Base, utcnow

OBJECT_TYPES = ("incident", "incident_list", "session", "session_list", "review_history",
                # changes (issue 17): the directory and the user accounts
                "location", "key_position_assignment", "user")


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"), Index("ix_audit_log_actor_at", "actor", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16), default="read")
    object_type: Mapped[str] = mapped_column(String(32))
    # A single id (detail reads) or null (lists: the ids are in object_ids).
    object_id: Mapped[str | None] = mapped_column(String(64), default=None)
    object_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    path: Mapped[str | None] = mapped_column(String(300), default=None)


# The same statements as migration 0003 (create_all in the tests builds them too).
SQLITE_TRIGGERS = [
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
]
POSTGRES_TRIGGERS = [
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
]

for _statement in SQLITE_TRIGGERS:
    event.listen(AuditEntry.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
for _statement in POSTGRES_TRIGGERS:
    event.listen(AuditEntry.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql"))
