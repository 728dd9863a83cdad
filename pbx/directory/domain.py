"""Pure rules for directory values: E.164 numbers, SIP domains, extension numbers, time zones.

No Django import: these functions are shared by models, serializers and the seed command.
Each raises `InvalidValue` with a stable code.
"""

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers


class InvalidValue(ValueError):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


_EXTENSION_NUMBER = re.compile(r"[1-9][0-9]{1,9}")
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_TIME_ZONES = frozenset(available_timezones())


def normalise_e164(raw: str) -> str:
    """Return the number in E.164 (`+442071838750`); raise if it is not a valid number.

    Only international form is accepted (a leading `+`): a hosted PBX serves many countries and
    guessing a region from a tenant is how wrong numbers get dialled.
    """
    text = raw.strip()
    if not text.startswith("+"):
        raise InvalidValue("Use the international E.164 form, starting with +.", "not_e164")
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidValue("This is not a phone number.", "not_e164") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidValue("This is not a valid phone number.", "invalid_phone_number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_sip_domain(raw: str) -> str:
    """A tenant's SIP domain (also its digest realm): a lowercase DNS name with a dot."""
    domain = raw.strip().lower().rstrip(".")
    labels = domain.split(".")
    if (
        len(domain) > 253
        or len(labels) < 2
        or not all(_DNS_LABEL.fullmatch(label) for label in labels)
    ):
        raise InvalidValue("Enter a DNS name such as acme.pbx.example.com.", "invalid_sip_domain")
    if labels[-1].isdigit():
        raise InvalidValue("A SIP domain is a name, not an IP address.", "invalid_sip_domain")
    return domain


def validate_extension_number(number: str) -> str:
    """Extensions are 2 to 10 digits, never starting with 0 (the usual outside-line prefix)."""
    if not _EXTENSION_NUMBER.fullmatch(number):
        raise InvalidValue(
            "An extension is 2 to 10 digits and does not start with 0.", "invalid_extension_number"
        )
    return number


def validate_time_zone(name: str) -> str:
    if name not in _TIME_ZONES:
        raise InvalidValue(
            f"Unknown time zone {name!r}; use an IANA name such as Europe/Paris.",
            "invalid_time_zone",
        )
    try:
        ZoneInfo(name)
    except ZoneInfoNotFoundError as exc:  # pragma: no cover - listed zones always load
        raise InvalidValue(f"Unknown time zone {name!r}.", "invalid_time_zone") from exc
    return name


# Transports that carry SIP encrypted: the only ones a `tls_srtp_required` device may use
# (the engine enforces the same: deploy/kamailio/parts/tls.cfg).
ENCRYPTED_TRANSPORTS = frozenset({"tls", "wss"})
TLS_SRTP_REQUIRED = "tls_srtp_required"


def transport_allowed(*, policy: str, transport: str) -> bool:
    """Whether a device under `policy` may use SIP `transport` (udp, tcp, tls, ws, wss)."""
    return policy != TLS_SRTP_REQUIRED or transport.lower() in ENCRYPTED_TRANSPORTS
