"""The decision record of an incident, for the resident's file (issue 15 part 6)."""
