"""Authentication: JWT bearer tokens (HS256), users, roles."""
