"""Incidents: the decisions the assistant recorded, and their review history."""
