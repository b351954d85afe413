"""Minimum norms evaluated in SQL, and indicators per location and period."""
