"""API sessions of mobile apps and scripts: short-lived access tokens and rotating refresh tokens."""
