"""Every endpoint the engine and the voicemail agent call, in one place (top layer: it wires the
apps together). Each view is guarded by `pbx.engine.http.engine_endpoint`, parses with
`pbx.engine.contract`, and calls one service of the app that owns the concept."""
