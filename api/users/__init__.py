"""Local user accounts, managed by admins (read-only when roles come from OIDC)."""
