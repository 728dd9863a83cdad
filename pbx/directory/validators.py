"""Django validators wrapping the pure rules in `domain` (for model fields and forms)."""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError

from pbx.directory import domain
from pbx.directory.networks import InvalidNetwork, normalise_networks


def _apply(rule: Callable[[str], str], value: str) -> None:
    try:
        rule(value)
    except domain.InvalidValue as exc:
        raise ValidationError(str(exc), code=exc.code) from exc


def validate_e164(value: str) -> None:
    _apply(domain.normalise_e164, value)


def validate_sip_domain(value: str) -> None:
    _apply(domain.normalise_sip_domain, value)


def validate_extension_number(value: str) -> None:
    _apply(domain.validate_extension_number, value)


def validate_time_zone(value: str) -> None:
    _apply(domain.validate_time_zone, value)


def validate_networks(value: Any) -> None:
    if not isinstance(value, list):
        raise ValidationError("Enter a list of networks in CIDR form.", code="invalid_network")
    try:
        normalise_networks(value)
    except InvalidNetwork as exc:
        raise ValidationError(str(exc), code=exc.code) from exc
