"""The voicemail media agent: a small SIP user agent (RFC 3261 UAS over UDP) with G.711 RTP
(RFC 3550) and RFC 4733 DTMF. The engine sends it calls nobody answered; it plays the greeting,
records until the caller hangs up, presses #, falls silent or reaches the maximum length, and
hands the recording to Django through one idempotent deposit (the call's id is the key)."""
