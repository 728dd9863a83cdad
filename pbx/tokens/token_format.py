"""Token format. Prefixes (`pbxa_`, `pbxr_`) let secret scanners spot leaked tokens; only the
SHA-256 of a token is stored (tokens carry 256 random bits, so a fast hash is enough).
"""

import hashlib
import secrets as _random

ACCESS_PREFIX = "pbxa_"
REFRESH_PREFIX = "pbxr_"


def new_token(prefix: str) -> str:
    return prefix + _random.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
