"""Reminders before a follow-up's deadline and escalation after it (issue 15, part 3)."""
