"""The review workflow of incidents: explicit states, one transition table, notes."""
