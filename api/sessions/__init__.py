"""Guidance sessions: the append-only log of every conversation that runs a protocol."""
