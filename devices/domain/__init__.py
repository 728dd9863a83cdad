"""Pure rules about devices: credentials, networks, push tokens. No Django imports."""
