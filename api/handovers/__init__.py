"""Handing an incident to another counsellor or location (issue 15 part 6)."""
