"""Audit log of reads of sessions and incidents by people (issue 6, part 5)."""
