"""Push notifications to mobile apps: what a push says, the FCM and APNs senders, and the
delivery records that make every push happen at most once per call, device and kind."""
