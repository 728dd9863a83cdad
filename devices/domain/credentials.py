"""SIP digest credentials of a device.

The secret is generated here, shown to the person once, and only its HA1 digests are stored:
HA1 = MD5(username:realm:secret) as RFC 2617 / RFC 8760 (MD5) define it, which is what Kamailio's
auth_db reads with `calculate_ha1=0`; HA1B = MD5(username@domain:realm:secret) for clients that
put the domain in the digest username.
"""

import hashlib
import re
import secrets
from dataclasses import dataclass

# No look-alike characters (0/O, 1/l/I): secrets get typed into desk phones by hand.
_SECRET_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # noqa: S105 - an alphabet
_USERNAME_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
SECRET_LENGTH = 24  # 24 * log2(57) ~= 140 bits
USERNAME_RANDOM_LENGTH = 10  # 10 * log2(32) = 50 bits: usernames are not guessable by scanners

_KIND_PREFIX = {
    "desk_phone": "dp",
    "softphone": "sp",
    "mobile_app": "ma",
    "web_softphone": "ws",
}
_MAC = re.compile(r"[0-9a-f]{12}")


@dataclass(frozen=True, slots=True)
class DigestCredentials:
    username: str
    realm: str
    ha1: str
    ha1b: str


def generate_secret() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_LENGTH))


def generate_sip_username(kind: str) -> str:
    """A random username such as `dp7k2mx9qa4r`: the prefix tells the kind, the rest is random.

    Extension numbers are never used as SIP usernames: scanners try 100..999 first.
    """
    prefix = _KIND_PREFIX.get(kind, "dv")
    return prefix + "".join(
        secrets.choice(_USERNAME_ALPHABET) for _ in range(USERNAME_RANDOM_LENGTH)
    )


def digest_credentials(*, username: str, realm: str, secret: str) -> DigestCredentials:
    ha1 = hashlib.md5(f"{username}:{realm}:{secret}".encode(), usedforsecurity=False).hexdigest()
    ha1b = hashlib.md5(
        f"{username}@{realm}:{realm}:{secret}".encode(), usedforsecurity=False
    ).hexdigest()
    return DigestCredentials(username=username, realm=realm, ha1=ha1, ha1b=ha1b)


def normalise_mac_address(raw: str) -> str:
    """`00-1A-2b-3C-4d-5E` / `001a.2b3c.4d5e` / `001A2B3C4D5E` -> `00:1a:2b:3c:4d:5e`."""
    digits = re.sub(r"[:\-.\s]", "", raw).lower()
    if not _MAC.fullmatch(digits):
        raise ValueError("Enter a MAC address such as 00:1a:2b:3c:4d:5e.")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))
