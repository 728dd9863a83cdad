"""Allowed registration networks: which source addresses may register a device.

An empty list means "anywhere". A tenant's list and a device's list both apply: an address must
be inside each non-empty list.
"""

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_NETWORKS = 50


class InvalidNetwork(ValueError):
    def __init__(self, message: str, code: str = "invalid_network") -> None:
        super().__init__(message)
        self.code = code


def parse_network(text: str) -> Network:
    """`"192.0.2.0/24"` -> network. A bare address is a single-host network. Host bits refused."""
    try:
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        raise InvalidNetwork(
            f"{text!r} is not a network in CIDR form such as 192.0.2.0/24."
        ) from exc


def normalise_networks(texts: Iterable[str]) -> list[str]:
    """Validate and canonicalise a list of CIDR strings; duplicates are dropped, order kept."""
    seen: dict[str, None] = {}
    for text in texts:
        if not isinstance(text, str):
            raise InvalidNetwork("Each network must be a string in CIDR form.")
        seen[str(parse_network(text))] = None
    if len(seen) > MAX_NETWORKS:
        raise InvalidNetwork(f"At most {MAX_NETWORKS} networks.", "too_many_networks")
    return list(seen)


def address_allowed(address: str, *network_lists: Sequence[str]) -> bool:
    """True when `address` lies inside every non-empty list of networks."""
    ip = ipaddress.ip_address(address)
    for networks in network_lists:
        if networks and not any(ip in parse_network(network) for network in networks):
            return False
    return True
