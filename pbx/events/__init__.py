"""Live events to browsers and mobile apps over WebSockets (Channels).

Services publish with `send_event_on_commit`; the consumer only authenticates and subscribes.
Event schema (JSON, one object per message): `{"type": "device.updated", "data": {...},
"at": "<ISO 8601>"}`. See README "Live events".
"""
