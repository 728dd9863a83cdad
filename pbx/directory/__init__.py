"""The directory: tenants, their users, extensions and phone numbers (DIDs)."""
