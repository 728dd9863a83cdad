"""API sessions of apps and scripts: short-lived access tokens, rotating refresh tokens."""
