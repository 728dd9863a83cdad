"""One sign-in attempt on each surface, from a given address, read back as ok/wrong/locked."""

from dataclasses import dataclass

from django.test import Client
from rest_framework.test import APIClient


@dataclass(frozen=True)
class Attempt:
    outcome: str  # "ok" (password accepted: signed in, or on to the code), "wrong", "locked"
    status: int
    body: bytes
    location: str


def _read(response, ok_status: int, wrong_status: int) -> Attempt:
    status = response.status_code
    outcome = {ok_status: "ok", wrong_status: "wrong", 429: "locked"}[status]
    return Attempt(outcome, status, response.content, response.get("Location", ""))


def api(address: str, email: str, password: str, otp: str = "") -> Attempt:
    response = APIClient(REMOTE_ADDR=address).post(
        "/api/v1/auth/tokens", {"email": email, "password": password, "otp": otp}, format="json"
    )
    return _read(response, 201, 401)


def portal(address: str, email: str, password: str) -> Attempt:
    response = Client(REMOTE_ADDR=address).post(
        "/portal/login/", {"username": email, "password": password}
    )
    return _read(response, 302, 200)


def admin(address: str, email: str, password: str) -> Attempt:
    response = Client(REMOTE_ADDR=address).post(
        "/admin/login/", {"username": email, "password": password}
    )
    return _read(response, 302, 200)


SURFACES = {"api": api, "portal": portal, "admin": admin}
