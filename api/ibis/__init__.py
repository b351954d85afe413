"""The export for IBIS, COA's resident registration system (issue 15 part 6)."""
